package search

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/storage"
)

// applyOps applies ops as the next entry of st.
func applyOps(t *testing.T, st *storage.Store, ops ...storage.Op) {
	t.Helper()
	at := time.Unix(1_700_000_000, 0).Add(time.Duration(st.AppliedIndex()) * time.Second)
	if _, err := st.Apply([]storage.Entry{{Index: st.AppliedIndex() + 1, CommittedAt: at, Ops: ops}}); err != nil {
		t.Fatal(err)
	}
}

func editOp(id, text string) storage.Op {
	return storage.Op{Kind: storage.OpEdit, By: "12D3KooWauthor", Target: id, Text: text}
}

// searchIDs is the IDs Search finds for query in general.
func searchIDs(t *testing.T, ix *Index, query string) []string {
	t.Helper()
	hits, err := ix.Search(context.Background(), query, []string{"general"}, 50)
	if err != nil {
		t.Fatal(err)
	}
	return ids(hits)
}

// TestFollowEditsAndDeletes: with Follow running, an edited message is
// found by its new words and not its old ones within a second of the
// edit, a deleted message not at all; a restarted index keeps following.
func TestFollowEditsAndDeletes(t *testing.T) {
	dir := t.TempDir()
	st := mustStore(t, dir)
	applyOps(t, st, storage.Op{Kind: storage.OpCreateChannel, Channel: "general"})
	applyOps(t, st, sendOp("a", "general", "apple pie"), sendOp("b", "general", "banana split"))
	ix := mustOpen(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	followed := make(chan error, 1)
	go func() { followed <- ix.Follow(ctx, st, 0) }()
	// waitFound polls (with a deadline) until query finds want.
	waitFound := func(query string, want ...string) {
		t.Helper()
		var got []string
		if testutil.Poll(t.Context(), time.Second, 0, func() (bool, string) {
			got = searchIDs(t, ix, query)
			return slices.Equal(got, want), ""
		}) != nil {
			t.Fatalf("search %q = %v a second after the change, want %v", query, got, want)
		}
	}
	waitFound("apple", "a")
	applyOps(t, st, editOp("a", "cherry tart"))
	waitFound("cherry", "a")
	waitFound("apple")
	applyOps(t, st, storage.Op{Kind: storage.OpDelete, By: "12D3KooWauthor", Target: "b"})
	waitFound("banana")
	cancel()
	<-followed
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed while the store moves on: the next Follow sees the edit.
	applyOps(t, st, editOp("a", "damson jam"))
	ix = mustOpen(t, dir)
	if got := ix.Followed(); got != 2 {
		t.Fatalf("reopened index followed %d changes, want 2", got)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	go func() { followed <- ix.Follow(ctx2, st, 0) }()
	waitFound("damson", "a")
	waitFound("cherry")
	cancel2()
	<-followed
}

// TestFollowChangesRebuildsWhenBehind: an index further behind than the
// change feed keeps rebuilds, and then reads right.
func TestFollowChangesRebuildsWhenBehind(t *testing.T) {
	dir := t.TempDir()
	st := mustStore(t, dir)
	applyOps(t, st, storage.Op{Kind: storage.OpCreateChannel, Channel: "general"})
	applyOps(t, st, sendOp("a", "general", "apple pie"))
	ix := mustOpen(t, dir)
	ctx := context.Background()
	if err := ix.CatchUp(ctx, st); err != nil {
		t.Fatal(err)
	}
	ops := make([]storage.Op, 0, 10_001)
	for i := range cap(ops) {
		ops = append(ops, editOp("a", fmt.Sprintf("version%d", i)))
	}
	applyOps(t, st, ops...)
	if _, complete, err := st.Changes(0, 1); err != nil || complete {
		t.Fatalf("the feed still has change 1 (%v): this test does not test a rebuild", err)
	}
	if err := ix.FollowChanges(ctx, st); err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastChange()
	if got := searchIDs(t, ix, "version10000"); !slices.Equal(got, []string{"a"}) || ix.Followed() != last {
		t.Fatalf("after the rebuild: %v, followed %d of %d", got, ix.Followed(), last)
	}
	if got := searchIDs(t, ix, "apple"); len(got) != 0 {
		t.Fatalf("the old words still find %v", got)
	}
}
