package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// fileMode keeps chat history private to the user running concord.
const fileMode = 0o600

// initialMmapSize is the address space bbolt maps up front. A write
// transaction that grows the file past the mapping must remap, and remapping
// waits for every open read transaction, including a Snapshot being streamed
// to a slow peer; that would stall Apply. Reserving address space (not memory)
// generously makes that wait happen only past this size.
const initialMmapSize = 1 << 30

// Store is the chat state of one member. All methods are safe for concurrent
// use. Apply is meant to be called by a single FSM goroutine; concurrent
// Applies are serialized by bbolt.
type Store struct {
	cfg Config
	log *slog.Logger

	// mu guards the db pointer, which Restore swaps and Close clears.
	// Readers and Apply hold it shared for the length of their transaction.
	mu     sync.RWMutex
	db     *bolt.DB
	closed bool // by Close (db is also nil after a failed Reopen)

	// restoreMu keeps two Restores from sharing the side file.
	restoreMu sync.Mutex

	// failed is the error of an Apply that did not commit; later Applies
	// are refused until Reopen (all-or-stop: see Apply).
	failed atomic.Pointer[error]

	n notifier
}

// metaState is what the meta bucket says about the state it sits beside.
type metaState struct {
	applied     uint64
	lastCommit  time.Time
	teamVersion int // the committed team version (1 until the log raises it)
}

// Open opens the store at cfg.Path, creating the file and its buckets if
// needed. It fails with ErrLocked if another process has the file open and
// with ErrCorrupt if the file is not a concord store.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.logger()}
	db, st, err := s.openDB()
	if err != nil {
		return nil, err
	}
	// Only now, holding the lock, is it safe to drop a side file left by a
	// restore that crashed: nobody else can be writing it.
	if err := os.Remove(cfg.restorePath()); err == nil {
		s.log.Warn("storage: removed leftover restore file", "path", cfg.restorePath())
	} else if !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("storage: cannot remove leftover restore file", "path", cfg.restorePath(), "err", err)
	}
	s.db = db
	s.n.init(st)
	s.log.Info("storage: opened", "path", cfg.Path, "applied", st.applied)
	return s, nil
}

// Close closes the data file and wakes WaitApplied callers with ErrClosed.
// It waits for open Snapshots to be released. Calling it again is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.n.close()
	if s.db == nil { // a Reopen failed
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("storage: close %s: %w", s.cfg.Path, err)
	}
	return nil
}

// openDB opens cfg.Path, makes sure the layout exists, migrates an older
// schema, checks the file if asked (or if it is small) and reads meta.
func (s *Store) openDB() (*bolt.DB, metaState, error) {
	full, err := s.checkFull()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, metaState{}, fmt.Errorf("storage: %w", err)
	}
	// The tree is walked at every open, whatever the size (pagecheck.go
	// says why; 1.26 s warm, 1.82 s cold for a 1.19 GB file, TestCheckCost);
	// record's checksum only up to CheckOnOpenMax.
	var db *bolt.DB
	err = s.guard(func() (err error) {
		db, err = openBolt(s.cfg.Path, s.cfg.lockTimeout(), false, true)
		return err
	})
	if err != nil {
		return nil, metaState{}, fmt.Errorf("storage: %w", err)
	}
	st, err := s.prepare(db, full)
	if err != nil {
		_ = db.Close()
		// bbolt's own complaints about what the file holds (a bucket key
		// whose flag bit flipped reads as "incompatible value") are damage.
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerSchema) && isContentError(err) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, metaState{}, fmt.Errorf("storage: open %s: %w", s.cfg.Path, err)
	}
	return db, st, nil
}

// prepare creates the layout of a new file, migrates an old one, runs the
// open-time check and reads meta.
func (s *Store) prepare(db *bolt.DB, full bool) (metaState, error) {
	var ver uint64
	err := s.guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			// A bbolt file with buckets but no meta is some other program's
			// data; refuse it rather than mix our buckets into it.
			if tx.Bucket(bucketMeta) == nil {
				if k, _ := tx.Cursor().First(); k != nil {
					return fmt.Errorf("%w: not a concord store (has bucket %q, no meta)", ErrCorrupt, k)
				}
			}
			if err := checkBucketNames(tx); err != nil {
				return err
			}
			for _, name := range stateBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			meta := tx.Bucket(bucketMeta)
			if meta.Get(keySchema) == nil {
				if err := putSchema(meta); err != nil {
					return err
				}
			}
			var err error
			ver, err = readSchema(tx)
			return err
		})
	})
	if err != nil {
		return metaState{}, err
	}
	if err := s.migrate(db, ver); err != nil {
		return metaState{}, err
	}
	if err := s.crossCheckOnOpen(db, full); err != nil {
		return metaState{}, err
	}
	var st metaState
	err = s.guard(func() error {
		return db.View(func(tx *bolt.Tx) (err error) {
			st, err = readMeta(tx)
			return err
		})
	})
	return st, err
}

// checkBucketNames refuses a store in which a top-level bucket this binary
// does not know holds records sealed under another name: a flipped bit in
// a known bucket's name. The tree is sound, so Open would otherwise create
// the known bucket anew, empty (the bit-flip sweep lost every member that
// way, without a word). A newer release's bucket seals its records under
// its own name and passes. Only the first record found is read.
func checkBucketNames(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil || meta.Get(keySchemaCopy) == nil {
		return nil // a new file, or schema 1: no checksums to go by
	}
	known := append(slices.Clone(stateBuckets), bucketPins, bucketSigned)
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if slices.ContainsFunc(known, func(k []byte) bool { return bytes.Equal(k, name) }) {
			return nil
		}
		return firstRecord(newBucket(b, string(name)))
	})
}

// firstRecord verifies the first value in b or, if b starts with a nested
// bucket, in that one.
func firstRecord(b bucket) error {
	k, v := b.b.Cursor().First()
	switch {
	case k == nil:
		return nil
	case v == nil:
		if sub, ok := b.sub(string(k)); ok {
			return firstRecord(sub)
		}
	}
	_, err := b.open(k, v)
	return err
}

// openBolt opens a bbolt file with fsync on and maps bbolt's errors onto
// ours. A garbage file can make bbolt fault or panic while it reads the meta
// pages; that is reported as ErrCorrupt rather than taking the process down.
//
// Before it opens a file for writing it checks bbolt's free list, and with
// tree the whole tree (precheck), under a read-only open: a damaged free
// list makes bbolt's read-write open panic after it has mapped the file,
// and the mapping, which nothing can unmap after the panic, keeps the
// file's lock held for the rest of the process (every later open of it,
// a repair's included, then finds it "in use").
func openBolt(path string, timeout time.Duration, readOnly, tree bool) (db *bolt.DB, err error) {
	if !readOnly {
		if err := precheck(path, timeout, tree); err != nil {
			return nil, err
		}
	}
	// The file bbolt opens, so that a panic after it took the file's lock
	// can still release it (closing the file drops the lock): otherwise
	// every later open in this process would wait for that lock.
	var file *os.File
	defer func() {
		if p := recover(); p != nil {
			if file != nil {
				_ = file.Close()
			}
			db, err = nil, fmt.Errorf("open %s: %w: %v", path, ErrCorrupt, p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	db, err = bolt.Open(path, fileMode, &bolt.Options{
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
		Timeout:         timeout,
		ReadOnly:        readOnly,
		NoSync:          false, // each Apply batch must be durable before raft acks it
		InitialMmapSize: initialMmapSize,
		// The freelist is written with every commit rather than rebuilt
		// on open: rebuilding walks every page of the file, which maps the
		// whole history into memory at each start (RSS grew with the
		// history). Applies are off the commit path, so the extra pages
		// per batch cost little.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	case isContentError(err):
		return nil, fmt.Errorf("open %s: %w: %v", path, ErrCorrupt, err)
	default:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
}

// isContentError tells bbolt's complaints about what is in the file from
// failures of the OS. bbolt has sentinels for bad meta pages but reports
// some damage (e.g. "file size too small") with plain strings, so anything
// that is not an OS error is taken to be about the content.
func isContentError(err error) bool {
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) ||
		errors.Is(err, berrors.ErrVersionMismatch) {
		return true
	}
	var pathErr *fs.PathError
	var errno syscall.Errno
	return !errors.As(err, &pathErr) && !errors.As(err, &errno)
}

// putSchema writes this binary's schema version, plain and as a
// checksummed copy (keySchemaCopy).
func putSchema(meta *bolt.Bucket) error {
	if err := meta.Put(keySchema, seqKey(schemaVersion)); err != nil {
		return err
	}
	return newBucket(meta, string(bucketMeta)).put(keySchemaCopy, seqKey(schemaVersion))
}

// readSchema reads the schema version, which is stored without a checksum
// (record.go) and refuses one this binary cannot read. Schema 1 (before
// checksums) is accepted here: Open migrates it.
func readSchema(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, fmt.Errorf("%w: no meta bucket", ErrCorrupt)
	}
	v := meta.Get(keySchema)
	if v == nil {
		return 0, fmt.Errorf("%w: no schema version", ErrCorrupt)
	}
	ver, err := decodeUint64(v, "schema version")
	if err != nil {
		return 0, err
	}
	// From schema 2 on a checksummed copy stands beside the plain version:
	// a version that does not match it, or a newer one without it, is a
	// flipped bit, not a newer release's file.
	copied, err := newBucket(meta, string(bucketMeta)).get(keySchemaCopy)
	switch {
	case err != nil:
		return 0, err
	case copied != nil && !bytes.Equal(copied, v):
		return 0, fmt.Errorf("%w: schema version %d does not match its checked copy", ErrCorrupt, ver)
	case copied == nil && ver > schemaVersion:
		return 0, fmt.Errorf("%w: schema version %d without its checked copy", ErrCorrupt, ver)
	}
	// A single flipped bit cannot turn 2 into 1, so damage here is refused
	// rather than taken for a store to migrate.
	if ver > schemaVersion {
		return 0, fmt.Errorf("%w: schema version %d, this binary reads %d", ErrNewerSchema, ver, schemaVersion)
	}
	if ver != schemaVersion && ver != schemaV1 {
		return 0, fmt.Errorf("%w: schema version %d, this binary reads %d", ErrCorrupt, ver, schemaVersion)
	}
	return ver, nil
}

// readMeta checks the schema and reads the applied index and last commit.
func readMeta(tx *bolt.Tx) (metaState, error) {
	var st metaState
	ver, err := readSchema(tx)
	if err != nil {
		return st, err
	}
	if ver != schemaVersion {
		return st, fmt.Errorf("%w: schema version %d, this binary reads %d", ErrCorrupt, ver, schemaVersion)
	}
	meta, err := topBucket(tx, bucketMeta)
	if err != nil {
		return st, err
	}
	if meta.b.Get(keyMigrate) != nil {
		return st, fmt.Errorf("%w: migration to schema %d not finished", ErrCorrupt, schemaVersion)
	}
	v, err := meta.get(keyApplied)
	if err != nil {
		return st, err
	}
	if v != nil {
		if st.applied, err = decodeUint64(v, "applied index"); err != nil {
			return st, err
		}
	}
	v, err = meta.get(keyLastCommit)
	if err != nil {
		return st, err
	}
	if st.lastCommit, err = decodeTime(v); err != nil {
		return st, err
	}
	st.teamVersion = 1
	if v, err = meta.get(keyTeamVersion); err != nil || v == nil {
		return st, err
	}
	tv, err := decodeUint64(v, "team version")
	st.teamVersion = int(tv)
	return st, err
}

// repairHint ends the error of a damaged state.db.
const repairHint = "run `concord repair` or it will be rebuilt from the team"

// view runs fn in a read transaction on the current db.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.guard(func() error { return s.db.View(fn) })
}

// guard runs fn, which reads or writes the db, so that no panic escapes
// the package: bbolt trusts its file and panics on a damaged page
// ("assertion failed: Page expected to be: 16, but self identifies as
// ...", "slice bounds out of range"), or faults reading past the mapped
// file. Such a panic, and any ErrCorrupt, becomes an error that says the
// file is damaged and what to do. bbolt's View and Update roll their
// transaction back while the panic unwinds, so the db stays usable.
func (s *Store) guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("storage: recovered from a panic reading the data file", "path", s.cfg.Path,
				"panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
		if errors.Is(err, ErrCorrupt) && !errors.Is(err, errDamageReported) {
			err = &reportedError{fmt.Errorf("%s is damaged: %w; %s", filepath.Base(s.cfg.Path), err, repairHint)}
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return fn()
}

// errDamageReported marks an error guard has already dressed, so that
// nested guards do not repeat the sentence.
var errDamageReported = errors.New("damage reported")

type reportedError struct{ error }

func (e *reportedError) Unwrap() error        { return e.error }
func (e *reportedError) Is(target error) bool { return target == errDamageReported }
