package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"concord/internal/smallfs"
	"concord/internal/testutil"
	"concord/storage"
)

// stallLog is a Raft log of n entries: the first creates #general, each
// other carries msgs messages of varied size (up to 16 KB), as a busy team
// commits them.
func stallLog(t *testing.T, n, msgs int) (*raft.InmemStore, []*raft.Log) {
	t.Helper()
	logs := raft.NewInmemStore()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var all []*raft.Log
	for i := 1; i <= n; i++ {
		ops := []storage.Op{{Kind: storage.OpCreateChannel, Channel: "general"}}
		if i > 1 {
			ops = ops[:0]
			for j := 0; j < msgs; j++ {
				size := 200 + (i*7919+j*104729)%16000
				ops = append(ops, storage.Op{Kind: storage.OpMessage, Message: &storage.Envelope{
					ID: fmt.Sprintf("m%05d-%02d", i, j), Author: "12D3KooWauthor", Channel: "general",
					Text: strings.Repeat("x", size), SentAt: at}})
			}
		}
		data, err := encodeCommand(command{CommittedAt: at.Add(time.Duration(i) * time.Millisecond), Ops: ops}, 1)
		if err != nil {
			t.Fatal(err)
		}
		l := &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: data}
		all = append(all, l)
	}
	if err := logs.StoreLogs(all); err != nil {
		t.Fatal(err)
	}
	return logs, all
}

// stallEvents records OnStall calls.
type stallEvents struct {
	mu      sync.Mutex
	stalls  int
	resumes int
}

func (s *stallEvents) on(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.stalls++
	} else {
		s.resumes++
	}
}

// TestApplyIsAllOrStop fills a small filesystem under the state store at
// many points of a stream of committed entries (so the failure lands in
// page writes, the file's growth, the meta page, a later smaller batch that
// would fit), and checks that the store's applied index never passes an
// entry it does not hold, that the FSM says it is stalled, and that once
// space returns it resumes by itself, from exactly the first missing entry:
// every message present once, in log order, with no gap in the channel's
// sequence.
func TestApplyIsAllOrStop(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts filesystems")
	}
	const entries, msgs, tail = 120, 8, 4
	for _, room := range []int64{0, 512 << 10, 2 << 20, 4 << 20, 6 << 20, 8 << 20, 10 << 20, 14 << 20, 24 << 20} {
		t.Run(fmt.Sprintf("room=%dKiB", room>>10), func(t *testing.T) {
			dir := smallfs.Mount(t, 32<<20)
			st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			logs, all := stallLog(t, entries, msgs)
			filler := smallfs.Fill(t, dir, room)
			var ev stallEvents
			f := newFSM("test-team", st, logs, slog.New(slog.DiscardHandler), ev.on, func() {})
			t.Cleanup(f.close)

			// Raft hands committed entries over in batches of varied
			// size, no batch waiting for the one before; the last few come
			// alone, after the others were written or failed: small
			// batches that fit in the store's free pages even when the
			// disk is full.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			failed := 0
			hand := func(batch []*raft.Log) {
				var pending []*pendingApply
				for _, p := range f.ApplyBatch(batch) {
					pending = append(pending, p.(*pendingApply))
				}
				for _, p := range pending {
					if _, err := p.wait(ctx); err != nil {
						if ctx.Err() != nil {
							t.Fatal(err)
						}
						failed++
					}
				}
			}
			for i := 0; i < len(all)-tail; {
				k := min(1+i%5, len(all)-tail-i)
				hand(all[i : i+k])
				i += k
			}
			for _, l := range all[len(all)-tail:] {
				hand([]*raft.Log{l})
			}
			stall := f.stall.Load()
			applied := st.AppliedIndex()
			t.Logf("room %d KiB: %d of %d entries failed, applied index %d, stall %v", room>>10, failed, entries, applied, stall)
			checkPrefix(t, st, applied, msgs)
			if applied < entries {
				if stall == nil && failed > 0 {
					t.Errorf("entries failed but the FSM does not say it is stalled")
				}
			}

			filler.Release()
			resumed := func() bool { return st.AppliedIndex() >= entries && f.stall.Load() == nil }
			if testutil.Poll(t.Context(), 30*time.Second, 0, func() (bool, string) { return resumed(), "" }) != nil {
				t.Fatalf("did not resume: applied %d of %d, stall %v", st.AppliedIndex(), entries, f.stall.Load())
			}
			checkPrefix(t, st, entries, msgs)
			ev.mu.Lock()
			defer ev.mu.Unlock()
			if ev.stalls > 0 != (ev.resumes > 0) {
				t.Errorf("%d stalls reported, %d resumes", ev.stalls, ev.resumes)
			}
			if failed > 0 && ev.stalls == 0 {
				t.Errorf("%d entries failed, no stall reported", failed)
			}
		})
	}
}

// checkPrefix checks that the store holds exactly the messages of entries
// 2..applied, in log order, with seqs 1..n.
func checkPrefix(t *testing.T, st *storage.Store, applied uint64, msgs int) {
	t.Helper()
	if applied < 1 {
		return
	}
	want := int(applied-1) * msgs
	seq := 0
	err := st.EachMessage("general", func(m storage.Message) error {
		seq++
		i, j := 2+(seq-1)/msgs, (seq-1)%msgs
		if id := fmt.Sprintf("m%05d-%02d", i, j); m.ID != id || m.Seq != uint64(seq) {
			return fmt.Errorf("seq %d: message %s (seq %d), want %s", seq, m.ID, m.Seq, id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("history at applied index %d: %v", applied, err)
	}
	if seq != want {
		t.Fatalf("applied index %d but %d messages stored, want %d", applied, seq, want)
	}
}

// TestStallErrorSays: the errors of a stall match ErrStalled and the cause.
func TestStallErrorSays(t *testing.T) {
	cause := errors.New("no space left on device")
	var err error = &Stall{At: 7, Err: cause}
	if !errors.Is(err, ErrStalled) || !errors.Is(err, cause) {
		t.Errorf("%v does not match ErrStalled and its cause", err)
	}
	if !strings.Contains(err.Error(), "entry 7") {
		t.Errorf("%q does not say where applying stopped", err)
	}
}
