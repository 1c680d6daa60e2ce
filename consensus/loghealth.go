package consensus

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// StorageErr returns nil while this member can store what the team sends
// it, and otherwise an error that says why (typically a full disk): its
// Raft log cannot be appended to (wrapping ErrLogWrite), or a snapshot from
// the leader cannot be written or installed (wrapping ErrSnapshotWrite).
// Applying committed entries has its own report, Stall. Each clears by
// itself once space returns: Raft retries appends and snapshots, and the
// log reopens itself; when Raft sends nothing to retry (the member was
// retired from the configuration), the log checks itself every second
// (healLog).
func (r *Replica) StorageErr() error {
	if r.logs != nil {
		if err := r.logs.Err(); err != nil {
			return err
		}
	}
	if r.snaps != nil {
		if err := r.snaps.err(); err != nil {
			return err
		}
	}
	if r.fsm != nil {
		if p := r.fsm.restoreErr.Load(); p != nil {
			return *p
		}
	}
	return nil
}

// healLog gives the Raft log a chance to find out it can be written again
// when Raft does not try (logStore.heal), every reopenEvery.
func (r *Replica) healLog(ctx context.Context) {
	t := time.NewTicker(reopenEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.logs.heal()
		}
	}
}

// snapStore is raft's snapshot store with the last write failure noted: a
// follower far behind can only catch up through a snapshot, and one that
// cannot write it would otherwise look healthy while it never catches up.
type snapStore struct {
	raft.SnapshotStore
	failed atomic.Pointer[error]
}

func (s *snapStore) note(err error) {
	if err == nil {
		s.failed.Store(nil)
		return
	}
	err = fmt.Errorf("%w: %w", ErrSnapshotWrite, err)
	s.failed.Store(&err)
}

func (s *snapStore) err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *snapStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		s.note(err)
		return nil, err
	}
	return &noteSink{SnapshotSink: sink, s: s}, nil
}

// noteSink reports a snapshot's write failure, or its success, to its
// store.
type noteSink struct {
	raft.SnapshotSink
	s *snapStore
}

func (w *noteSink) Write(p []byte) (int, error) {
	n, err := w.SnapshotSink.Write(p)
	if err != nil {
		w.s.note(err)
	}
	return n, err
}

func (w *noteSink) Close() error {
	err := w.SnapshotSink.Close()
	w.s.note(err)
	return err
}

var _ raft.SnapshotStore = (*snapStore)(nil)
