package search

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"concord/storage"
)

func mustStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func sendOp(id, channel, text string) storage.Op {
	return storage.Op{Kind: storage.OpMessage, Message: &storage.Envelope{
		ID: id, Author: "12D3KooWauthor", Channel: channel, Text: text, SentAt: time.Unix(1_700_000_000, 0),
	}}
}

// TestFollowStore runs Follow against a real storage.Store: every applied
// message becomes searchable soon after Apply returns (the issue asks for
// within a second), membership-only entries do not stall it, and a
// restarted index catches up what it missed.
func TestFollowStore(t *testing.T) {
	dir := t.TempDir()
	st := mustStore(t, dir)
	at := time.Unix(1_700_000_000, 0)
	if _, err := st.Apply([]storage.Entry{{Index: 1, CommittedAt: at, Ops: []storage.Op{
		{Kind: storage.OpCreateChannel, Channel: "general"},
		{Kind: storage.OpCreateChannel, Channel: "random"},
	}}}); err != nil {
		t.Fatal(err)
	}
	ix := mustOpen(t, dir)
	caught := make(chan uint64, 100)
	ix.afterCatchUp = func(i uint64) {
		select {
		case caught <- i:
		default:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	followed := make(chan error, 1)
	go func() { followed <- ix.Follow(ctx, st, 0) }()

	waitIndexed := func(want uint64) {
		t.Helper()
		for {
			select {
			case i := <-caught:
				if i >= want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("Indexed never reached %d (at %d)", want, ix.Indexed())
			}
		}
	}
	index := uint64(1)
	for i := range 20 {
		index++
		ch := []string{"general", "random"}[i%2]
		ops := []storage.Op{sendOp(fmt.Sprintf("id-%d", i), ch, fmt.Sprintf("ticket%d is fixed", i))}
		if i%5 == 4 { // an entry with no message at all
			ops = nil
		}
		if _, err := st.Apply([]storage.Entry{{Index: index, CommittedAt: at.Add(time.Duration(i) * time.Second), Ops: ops}}); err != nil {
			t.Fatal(err)
		}
		applied := time.Now()
		if ops == nil {
			continue
		}
		waitIndexed(index)
		if d := time.Since(applied); d > time.Second {
			t.Errorf("message %d searchable %v after apply", i, d)
		}
		hits, err := ix.Search(ctx, fmt.Sprintf("ticket%d", i), []string{"general", "random"}, 5)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{fmt.Sprintf("id-%d", i)}; !slices.Equal(ids(hits), want) {
			t.Fatalf("hits for message %d = %v, want %v", i, ids(hits), want)
		}
	}
	cancel()
	if err := <-followed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v, want context.Canceled", err)
	}

	// Restart the index while the store moves on: Open + Follow catches up.
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 30; i++ {
		index++
		if _, err := st.Apply([]storage.Entry{{Index: index, CommittedAt: at.Add(time.Hour), Ops: []storage.Op{
			sendOp(fmt.Sprintf("id-%d", i), "general", "missed while closed"),
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	ix = mustOpen(t, dir)
	if err := ix.CatchUp(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search(context.Background(), "missed", []string{"general"}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 10 || hits[0].ID != "id-29" || ix.Indexed() != index {
		t.Fatalf("after restart: %d hits (first %v), Indexed %d want %d", len(hits), ids(hits), ix.Indexed(), index)
	}
}
