package consensus

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"

	"concord/storage"
)

// fsm applies committed Raft entries to the member's persistent chat state.
// It implements raft.BatchingFSM so that one bbolt transaction (one fsync)
// covers every entry raft hands over at once. Apply never reads a clock or
// the network: everything comes from the entry, so every member computes the
// same state.
type fsm struct {
	store     *storage.Store
	log       *slog.Logger
	onFatal   func(error)
	onMembers func() // a member op was applied
}

var _ raft.BatchingFSM = (*fsm)(nil)

// applyResult is what a local ApplyFuture's Response carries.
type applyResult struct {
	results []storage.Result
	err     error
}

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	entries := make([]storage.Entry, len(logs))
	out := make([]any, len(logs))
	for i, l := range logs {
		entries[i] = storage.Entry{Index: l.Index}
		if l.Type != raft.LogCommand {
			continue
		}
		c, err := decodeCommand(l.Data)
		if err != nil {
			// A committed entry that does not decode was written by a newer
			// or broken member; every member skips it the same way.
			f.log.Error("skipping undecodable entry", "index", l.Index, "err", err)
			out[i] = applyResult{err: err}
			continue
		}
		entries[i].CommittedAt = c.CommittedAt
		entries[i].Ops = c.Ops
	}
	results, err := f.store.Apply(entries)
	if err != nil {
		// The transaction did not commit, so the applied index did not move:
		// a restart replays these entries. Going on would diverge from the
		// team, so the member must stop.
		err = fmt.Errorf("apply entries %d-%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
		f.onFatal(err)
		for i := range out {
			out[i] = applyResult{err: err}
		}
		return out
	}
	members := false
	for i := range logs {
		for _, op := range entries[i].Ops {
			members = members || op.Kind == storage.OpAddMember
		}
		if out[i] == nil {
			out[i] = applyResult{results: results[i]}
		}
	}
	if members {
		f.onMembers()
	}
	return out
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.store.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &fsmSnapshot{s: s}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}

// fsmSnapshot streams the store's read transaction into raft's sink.
type fsmSnapshot struct{ s *storage.Snapshot }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.s.WriteTo(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.s.Release() }
