package storage

import (
	"context"
	"sync"
	"time"
)

// notifier publishes the applied index. Waiters grab the current channel and
// block on it; every advance closes it and installs a fresh one, which wakes
// them all without polling.
type notifier struct {
	mu          sync.Mutex
	applied     uint64
	lastCommit  time.Time
	teamVersion int
	closed      bool
	advanced    chan struct{}
}

func (n *notifier) init(st metaState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.applied, n.lastCommit, n.teamVersion = st.applied, st.lastCommit, st.teamVersion
	n.advanced = make(chan struct{})
}

// advance raises the applied index after a committed Apply. It never lowers
// it, so a slow Apply cannot undo a later one's progress.
func (n *notifier) advance(st metaState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if st.applied <= n.applied {
		return
	}
	n.applied, n.lastCommit, n.teamVersion = st.applied, st.lastCommit, st.teamVersion
	n.wakeLocked()
}

// reset installs the state of a restored snapshot, which may be behind the
// old one, and wakes waiters so they re-check.
func (n *notifier) reset(st metaState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.applied, n.lastCommit, n.teamVersion = st.applied, st.lastCommit, st.teamVersion
	n.wakeLocked()
}

func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	n.wakeLocked()
}

func (n *notifier) wakeLocked() {
	close(n.advanced)
	n.advanced = make(chan struct{})
}

// AppliedIndex is the Raft index of the last entry whose effects are durable
// in the store.
func (s *Store) AppliedIndex() uint64 {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	return s.n.applied
}

// LastCommit is the commit time of the newest stored message or channel.
// Later ones get a strictly later time.
func (s *Store) LastCommit() time.Time {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	return s.n.lastCommit
}

// WaitApplied blocks until AppliedIndex() >= index, so a caller that proposed
// an entry can read its own write. It returns ctx's error if ctx ends first
// and ErrClosed if the store is closed first.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	for {
		s.n.mu.Lock()
		applied, closed, ch := s.n.applied, s.n.closed, s.n.advanced
		s.n.mu.Unlock()
		switch {
		case applied >= index:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TeamVersion is the team version committed in the log as of the applied
// index: the highest replicated protocol every member may be assumed to
// read (1 until the log raises it).
func (s *Store) TeamVersion() int {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	return max(s.n.teamVersion, 1)
}
