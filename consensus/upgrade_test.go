package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"concord/internal/testutil"
	"concord/storage"
	"concord/version"
)

// TestStopsAtEntryForNewerRelease: a committed entry written for a newer
// protocol stops the applier at that entry — the entries before it are
// applied, it and every later one are not (skipping it would give this
// member a history that differs from the team's) — and the stall names
// the release to install. Handed over in one batch and again one by one.
func TestStopsAtEntryForNewerRelease(t *testing.T) {
	for _, batched := range []bool{true, false} {
		st, err := storage.Open(storage.Config{Path: filepath.Join(t.TempDir(), "state.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		logs, all := stallLog(t, 6, 2)
		future := storage.AppendString([]byte{commandVersionV3}, "0.9.0")
		future = binary.AppendUvarint(future, version.Protocol+1)
		future = append(future, 0, 0) // whatever a newer release writes after its header
		all[3] = &raft.Log{Index: 4, Term: 1, Type: raft.LogCommand, Data: future}
		if err := logs.StoreLogs(all); err != nil {
			t.Fatal(err)
		}
		var ev stallEvents
		f := newFSM("test-team", st, logs, slog.New(slog.DiscardHandler), ev.on, func() {})
		t.Cleanup(f.close)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		batches := [][]*raft.Log{all}
		if !batched {
			batches = nil
			for _, l := range all {
				batches = append(batches, []*raft.Log{l})
			}
		}
		var errs []error
		for _, b := range batches {
			for _, p := range f.ApplyBatch(b) {
				_, err := p.(*pendingApply).wait(ctx)
				errs = append(errs, err)
			}
		}
		testutil.WaitFor(t, 5*time.Second, "the entries before the newer one applied", func() bool { return st.AppliedIndex() == 3 })
		stall := f.stall.Load()
		if stall == nil || stall.At != 4 {
			t.Fatalf("batched=%v: stall %v, want one at entry 4", batched, stall)
		}
		nu := stall.NeedsUpgrade()
		if nu == nil || nu.Release != "0.9.0" {
			t.Fatalf("batched=%v: stall %v does not name release 0.9.0", batched, stall)
		}
		if want := version.NeedsUpgrade("0.9.0"); stall.Error()[:len(want)] != want {
			t.Errorf("stall says %q, want it to start with %q", stall.Error(), want)
		}
		if !errors.Is(errs[len(errs)-1], ErrStalled) && !errors.As(errs[len(errs)-1], &nu) {
			t.Errorf("the last entry's proposer was told %v, want the stall", errs[len(errs)-1])
		}
		// It stays stopped: resuming re-reads the entry and stops again.
		f.resume(newRetry())
		if st.AppliedIndex() != 3 || f.stall.Load() == nil {
			t.Fatalf("after a retry: applied %d, stall %v", st.AppliedIndex(), f.stall.Load())
		}
		msgs, err := st.History("general", storage.Query{})
		if err != nil || len(msgs) != 4 { // entries 2 and 3, two messages each
			t.Fatalf("history: %v, %d messages, want 4", err, len(msgs))
		}
	}
}
