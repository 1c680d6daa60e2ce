package storage

import "fmt"

// Reopen closes and reopens the data file, and lets Apply write again after
// a failed Apply. A commit that failed (a full disk, an I/O error) leaves
// nothing of its batch on disk, but bbolt's in-memory state (free pages,
// the mapping) may be behind the file; a fresh open reads it all from the
// file. It waits for open read transactions and Snapshots, like Close.
func (s *Store) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			s.log.Warn("storage: close before reopening", "path", s.cfg.Path, "err", err)
		}
		s.db = nil
	}
	db, st, err := s.openDB()
	if err != nil {
		// Every method reports ErrClosed until a later Reopen succeeds.
		return fmt.Errorf("storage: reopen: %w", err)
	}
	s.db = db
	s.failed.Store(nil)
	s.n.reset(st)
	return nil
}

// Failed returns the error of the Apply that stopped applying, or nil.
func (s *Store) Failed() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}
