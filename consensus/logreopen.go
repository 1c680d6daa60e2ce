package consensus

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
)

// reopenEvery is how often a failing log is reopened at most: each reopen
// closes and opens files and the meta store, and Raft retries appends as
// fast as its leader resends them.
const reopenEvery = time.Second

// StoreLogs appends entries with one fsync.
//
// raft-wal v0.4.0 does not recover from a failed append or segment
// rotation (ENOSPC when creating the next segment, or when recording it in
// the meta store): its tail stays sealed, or its writer holds a half
// written batch, and every later append fails until the log is reopened.
// So a failed append reopens the log, which finishes an interrupted
// rotation (openWALFiles), and tries once more; later appends (Raft resends
// what it was not told is stored) reopen it again at most once per
// reopenEvery, and in between fail fast with the error that broke it.
func (s *logStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return raftwal.ErrClosed
	}
	if !s.broken {
		err := s.appendLocked(logs)
		if err == nil {
			s.setErr(nil)
			return nil
		}
		s.broken = true
		s.setErr(err)
	}
	if err := s.recoverLocked(); err != nil {
		return err
	}
	if err := s.appendLocked(logs); err != nil {
		s.broken = true
		s.setErr(err)
		return s.Err()
	}
	s.setErr(nil)
	return nil
}

func (s *logStore) appendLocked(logs []*raft.Log) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.w.StoreLogs(logs); err != nil {
		return err
	}
	s.last = logs[len(logs)-1].Index
	return nil
}

// DeleteRange drops entries from the head (compaction) or the tail (a
// follower's entries that the leader never had). A failing log is
// reopened first: its writer may be in no state to be truncated.
//
// A failed truncation breaks the log too: raft-wal v0.4.0 commits a
// truncation to its meta store before it creates the new tail's segment
// file, so when that fails (ENOSPC) its state is behind its meta store,
// and every retry failed with "file exists" (the file of the first try)
// until the log was reopened. The reopen adopts what the meta store
// recorded, or, if the truncation did not get that far, drops the entries
// then (everything from min on, when it cut the log's end).
func (s *logStore) DeleteRange(min, max uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return raftwal.ErrClosed
	}
	if err := s.recoverLocked(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.w.deleteRange(min, max); err != nil {
		s.broken = true
		if max >= s.last && min > 0 {
			s.last = min - 1 // Raft wants the end gone: the reopen must not keep it
		}
		s.setErr(fmt.Errorf("delete entries %d-%d: %w", min, max, err))
		return s.Err()
	}
	last, err := s.w.LastIndex()
	if err != nil {
		return err
	}
	s.last = last
	return nil
}

// recoverLocked reopens a broken log unless it did so less than
// reopenEvery ago, and returns the error that still keeps it from
// appending, or nil. s.wmu is held.
func (s *logStore) recoverLocked() error {
	if !s.broken {
		return nil
	}
	now := s.now()
	if now.Sub(s.reopened) < reopenEvery {
		return s.Err()
	}
	s.reopened = now
	start := time.Now()
	if err := s.reopenLocked(); err != nil {
		s.setErr(err)
		return s.Err()
	}
	s.broken = false
	s.log.Info("reopened the raft log", "index", s.last, "took", time.Since(start).Round(time.Microsecond))
	return nil
}

// heal is run every reopenEvery while appends fail. Raft retries an append
// only while it sends this member entries, and a member whose log cannot
// be written refuses the team's probes, so the leader's autopilot retires
// it from the Raft configuration (a non-voter at once), and then it gets
// no entries: without heal it would report the failure, and refuse
// probes, until restarted, and never be added back. heal reopens the log
// (at most once per reopenEvery, like an append) and, once that works and
// the disk has room for a whole segment (the next rotation preallocates
// one; the current one grows to at most that), clears the failure: the
// member answers probes again, is added back, and its next append tells.
func (s *logStore) heal() {
	if s.Err() == nil {
		return // the usual case: not even the writers' lock
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.Err() == nil {
		return
	}
	if err := s.recoverLocked(); err != nil {
		return
	}
	free, _, err := s.free(s.dir)
	if err != nil || free < uint64(s.segSize) {
		return
	}
	s.setErr(nil)
}

// reopenLocked closes the WAL and opens it again. Entries found beyond
// s.last are dropped: they were written by an append that returned an error
// (its fsync failed), so Raft was not told they are stored and it sends
// them again; keeping them would make that resend fail as a duplicate.
// s.wmu is held, so no append or truncation runs meanwhile.
func (s *logStore) reopenLocked() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.close(); err != nil {
		s.log.Warn("closing the failed raft log", "err", err)
	}
	w, openErr := openWALFiles(s.dir, s.segSize, s.log)
	if w == nil {
		// The closed WAL stays in place: readers get ErrClosed until a later
		// reopen works.
		return fmt.Errorf("reopen: %w", openErr)
	}
	s.w = w
	if openErr != nil {
		return openErr // readable, but its tail is still sealed
	}
	last, err := w.LastIndex()
	if err != nil {
		return err
	}
	switch {
	case last > s.last:
		s.log.Warn("dropping raft log entries whose append or truncation failed", "index", s.last+1, "last_index", last)
		if err := w.deleteRange(s.last+1, last); err != nil {
			return fmt.Errorf("drop entries %d-%d of a failed append or truncation: %w", s.last+1, last, err)
		}
	case last < s.last:
		return fmt.Errorf("the reopened log ends at %d, but entries up to %d were stored", last, s.last)
	}
	return nil
}

// Err returns nil while entries can be appended to the Raft log, and while
// they cannot (a full disk), why, wrapping ErrLogWrite. The next successful
// append clears it.
func (s *logStore) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *logStore) setErr(err error) {
	if err == nil && s.Err() == nil {
		return
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrLogWrite, err)
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err != nil && err == nil {
		s.log.Info("the raft log is writable again")
	}
	s.err = err
}
