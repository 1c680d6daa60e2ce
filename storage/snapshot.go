package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	bolt "go.etcd.io/bbolt"

	"concord/internal/durable"
)

// Snapshot is a consistent point-in-time view of the store, held open as a
// bbolt read transaction until Release. Apply keeps running meanwhile (unless
// the file outgrows the 1 GiB initial mapping, when bbolt's remap waits for
// the snapshot), but Restore and Close wait for it to be released: release it
// promptly, and never hold one on the goroutine that calls those.
type Snapshot struct {
	s       *Store
	mu      sync.Mutex // serializes WriteTo and Release on the tx
	tx      *bolt.Tx   // nil once released
	applied uint64
}

// Snapshot opens a snapshot of the current state.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, ErrClosed
	}
	var sn *Snapshot
	err := s.guard(func() error {
		tx, err := s.db.Begin(false)
		if err != nil {
			return err
		}
		st, err := readMeta(tx)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		sn = &Snapshot{s: s, tx: tx, applied: st.applied}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: snapshot: %w", err)
	}
	return sn, nil
}

// AppliedIndex is the applied index the snapshot covers.
func (sn *Snapshot) AppliedIndex() uint64 { return sn.applied }

// WriteTo streams the snapshot, a complete bbolt file, to w. It may be called
// more than once before Release; each call writes the same bytes.
//
// The stream is the store's file as it is, so from schema 2 on its values
// carry their checksums and Restore verifies them all. A member still on
// schema 1 (an older release) refuses such a snapshot ("schema version 2,
// this binary reads 1", ErrCorrupt) and keeps its state; Raft retries the
// install, and that member catches up once upgraded. Stripping the sums to
// keep the old stream would mean writing a second file per snapshot, as
// bbolt streams only the file it has. A schema 1 snapshot from an older
// member is accepted and migrated when the restored file is opened.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.tx == nil {
		return 0, fmt.Errorf("storage: snapshot: released")
	}
	var n int64
	err := sn.s.guard(func() (err error) {
		n, err = sn.tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: snapshot: write: %w", err)
	}
	return n, nil
}

// Release ends the snapshot's read transaction. Calling it again is a no-op.
func (sn *Snapshot) Release() {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.tx != nil {
		_ = sn.tx.Rollback() // read-only: nothing to lose
		sn.tx = nil
	}
}

// Restore replaces the whole state with a snapshot read from r (as written by
// Snapshot.WriteTo). r is streamed to Path+".restore", synced and checked
// before the live file is touched, so a bad or truncated snapshot returns an
// error (ErrCorrupt) and leaves the current state in place and usable. The
// swap itself is an atomic rename. Afterwards AppliedIndex reflects the
// snapshot and WaitApplied callers are woken.
//
// Restore waits for in-flight reads, Apply calls and unreleased Snapshots to
// finish; it must not be called while the caller holds a Snapshot.
func (s *Store) Restore(r io.Reader) error {
	s.restoreMu.Lock()
	defer s.restoreMu.Unlock()

	// Fail fast rather than stream a whole snapshot into a closed store.
	s.mu.RLock()
	closed := s.db == nil
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}

	tmp := s.cfg.restorePath()
	n, err := writeSynced(tmp, r)
	if err == nil && n == 0 {
		// bbolt would happily initialise an empty file as a new database.
		err = fmt.Errorf("%w: empty snapshot", ErrCorrupt)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: restore: %w", err)
	}
	st, err := checkSnapshotFile(tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: restore: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		_ = os.Remove(tmp)
		return ErrClosed
	}
	if err := s.db.Close(); err != nil {
		// bbolt has released the file either way; carry on with the swap
		// rather than leave the store without a db.
		s.log.Warn("storage: restore: closing old db", "path", s.cfg.Path, "err", err)
	}
	s.db = nil
	if err := os.Rename(tmp, s.cfg.Path); err != nil {
		_ = os.Remove(tmp)
		return s.reopenAfterRestore(fmt.Errorf("storage: restore: %w", err))
	}
	if err := durable.SyncDir(filepath.Dir(s.cfg.Path)); err != nil {
		// The new file is in place and will be used; only the rename's
		// durability across a power cut is in doubt.
		s.log.Error("storage: restore: sync directory", "path", s.cfg.Path, "err", err)
	}
	if err := s.reopenAfterRestore(nil); err != nil {
		return err
	}
	s.log.Info("storage: restored snapshot", "path", s.cfg.Path, "applied", st.applied)
	return nil
}

// reopenAfterRestore reopens s.cfg.Path (the old file if the swap failed,
// the new one otherwise) and publishes its meta. If even that fails the store
// behaves as closed. Caller holds s.mu.
func (s *Store) reopenAfterRestore(cause error) error {
	db, st, err := s.openDB()
	if err != nil {
		s.n.close()
		s.log.Error("storage: restore: reopen failed, store closed", "path", s.cfg.Path, "err", err)
		return errors.Join(cause, err)
	}
	s.db = db
	s.n.reset(st)
	return cause
}

// writeSynced copies r into a fresh file at path and fsyncs it, returning
// the number of bytes written.
func writeSynced(path string, r io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		_ = f.Close()
		return n, fmt.Errorf("read snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return n, err
	}
	return n, f.Close()
}

// checkSnapshotFile opens path read-only and reads all of it, so that a
// damaged snapshot is caught here and not by the live store: for schema 2,
// every record's checksum and bbolt's check (check.go); schema 1 has no
// checksums, so every page is walked. bbolt trusts its file and may fault
// or panic on a damaged one; both are recovered and reported as ErrCorrupt.
func checkSnapshotFile(path string) (st metaState, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, path, p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	db, err := openBolt(path, DefaultLockTimeout, true, false)
	if err != nil {
		return st, err
	}
	defer func() { _ = db.Close() }()
	// Its pages first, before bbolt reads through them (a cursor over a
	// page that names itself as its child never ends): not bbolt's own
	// check, since a snapshot comes from another member and a damaged one
	// could make that check fault on a goroutine where nothing recovers it
	// (check.go). The structure only: checkRecords verifies the checksums.
	if err := checkMetaPages(path, db.Info().PageSize); err != nil {
		return st, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if err := checkTreeFile(context.Background(), path, db.Info().PageSize, 0, true, false); err != nil {
		return st, fmt.Errorf("snapshot %s: %w", path, err)
	}
	tx, err := db.Begin(false)
	if err != nil {
		return st, err
	}
	defer func() { _ = tx.Rollback() }()

	ver, err := readSchema(tx)
	if err != nil {
		return st, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if ver == schemaV1 {
		return checkV1Snapshot(tx, path)
	}
	if st, err = readMeta(tx); err != nil {
		return st, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if err := checkRecords(context.Background(), tx, nil); err != nil {
		return st, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return st, nil
}

// checkV1Snapshot checks a snapshot from a schema 1 member: its applied
// index and a walk of every page.
func checkV1Snapshot(tx *bolt.Tx, path string) (metaState, error) {
	var st metaState
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyApplied); v != nil {
		idx, err := decodeUint64(v, "applied index")
		if err != nil {
			return st, fmt.Errorf("snapshot %s: %w", path, err)
		}
		st.applied = idx
	}
	for _, name := range [][]byte{bucketChannels, bucketMembers, bucketIDs, bucketMessages} {
		b := tx.Bucket(name)
		if b == nil {
			return st, fmt.Errorf("%w: snapshot %s: no %s bucket", ErrCorrupt, path, name)
		}
		walk(b)
	}
	return st, nil
}

// walk visits every key under b so bbolt reads (and sanity-checks) each page.
func walk(b *bolt.Bucket) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				walk(sub)
			}
		}
	}
}
