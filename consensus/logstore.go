package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"

	"concord/diskspace"
)

// defaultWALSegment is the size of one Raft log segment file. raft-wal
// frees log space a whole segment at a time, so up to one segment of
// entries older than the last snapshot stays on disk.
const defaultWALSegment = 8 << 20

// logStore is the Raft log and stable store: raft-wal, which appends a batch
// of entries with one fsync (raft-boltdb needs two; docs/benchmarks.md).
//
// A failed append or segment rotation (a full disk) leaves raft-wal v0.4.0
// with a sealed tail that refuses every later append until the log is
// reopened, so logStore reopens it itself (logreopen.go). The WAL is
// replaced only under mu's write lock: Raft's readers never see it closed.
type logStore struct {
	dir     string
	segSize int
	log     *slog.Logger
	now     func() time.Time                                 // injected by tests
	free    func(dir string) (free, total uint64, err error) // the disk's free space (heal)

	// wmu serialises the writers (appends, truncations, reopens): raft-wal
	// runs one at a time anyway, and a reopen must know which entries Raft
	// was told are stored (last).
	wmu      sync.Mutex
	last     uint64    // the last index an append or truncation reported stored
	broken   bool      // an append failed: the WAL must be reopened before the next
	reopened time.Time // the last reopen, to try at most once per reopenEvery
	closed   bool

	mu sync.RWMutex // read-held while the WAL is used, write-held to replace it
	w  *walFiles

	errMu sync.Mutex
	err   error // why appends fail; nil while they work
}

// walFiles is one open raft-wal log.
type walFiles struct {
	*raftwal.WAL
	meta   *metadb.BoltMetaDB // raft-wal's Close leaves its meta store open
	filer  *walFiler
	closed bool
}

func (w *walFiles) close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := errors.Join(w.WAL.Close(), w.meta.Close())
	w.filer.rotated()
	return err
}

// rotationWait bounds how long a truncation waits for a pending segment
// rotation (a metadata write and a file creation: milliseconds).
const rotationWait = 10 * time.Second

// deleteRange drops entries from the head (compaction) or the tail (a
// follower's entries that the leader never had). It first waits for a
// segment rotation the last append started: raft-wal v0.4.0 rotates in the
// background, and a truncation that runs before the rotation corrupts its
// segment list (the rotation then seals the segment the truncation just
// created and starts another at index 1: TestLogStoreTruncatesRightAfterSeal).
func (w *walFiles) deleteRange(min, max uint64) error {
	if err := w.filer.awaitRotation(rotationWait); err != nil {
		return err
	}
	return w.WAL.DeleteRange(min, max)
}

// FirstIndex returns the first index in the log, 0 when it is empty.
func (s *logStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.FirstIndex()
}

// LastIndex returns the last index in the log, 0 when it is empty.
func (s *logStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.LastIndex()
}

// GetLog reads the entry at index.
func (s *logStore) GetLog(index uint64, l *raft.Log) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.GetLog(index, l)
}

// StoreLog appends one entry.
func (s *logStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// IsMonotonic tells Raft (through its LogCache) that the log has no gaps.
func (s *logStore) IsMonotonic() bool { return true }

// Set stores a stable-store value (Raft's term and vote).
func (s *logStore) Set(key, val []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.Set(key, val)
}

// Get reads a stable-store value.
func (s *logStore) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.Get(key)
}

// SetUint64 stores a stable-store number.
func (s *logStore) SetUint64(key []byte, val uint64) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.SetUint64(key, val)
}

// GetUint64 reads a stable-store number.
func (s *logStore) GetUint64(key []byte) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.GetUint64(key)
}

// Close closes the log and its meta store.
func (s *logStore) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.w.close()
}

// openLogStore opens the Raft log in dir/wal, first moving a log that an
// earlier version kept in dir/raft.db into it. It scrubs the whole log
// first (walscrub.go: about 50 ms for 64 MB from the page cache): a log
// with damaged entries after the newest snapshot is refused with
// ErrLogDamaged, and damaged entries the snapshot covers are compacted away.
func openLogStore(dir string, segSize int, log *slog.Logger) (*logStore, error) {
	walDir := filepath.Join(dir, "wal")
	if err := finishRepair(dir); err != nil {
		return nil, err
	}
	if err := migrateBoltLog(dir, walDir, segSize, log); err != nil {
		return nil, err
	}
	covered, err := scrubLogDir(dir, walDir, log)
	if err != nil {
		return nil, err
	}
	s, err := openWAL(walDir, segSize, log)
	if err != nil {
		return nil, fmt.Errorf("consensus: open raft log %s: %w", walDir, err)
	}
	if covered > 0 {
		// A head truncation: raft-wal deletes the segments wholly below
		// covered+1 and raises the next one's MinIndex; later entries stay.
		first, err := s.FirstIndex()
		if err == nil {
			err = s.DeleteRange(first, covered)
		}
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("consensus: drop damaged raft log entries up to %d: %w", covered, err)
		}
	}
	return s, nil
}

// openWAL opens the raft-wal log in dir.
func openWAL(dir string, segSize int, log *slog.Logger) (*logStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	w, err := openWALFiles(dir, segSize, log)
	if err != nil {
		if w != nil {
			_ = w.close()
		}
		return nil, err
	}
	last, err := w.LastIndex()
	if err != nil {
		_ = w.close()
		return nil, err
	}
	return &logStore{dir: dir, segSize: segSize, log: log, now: time.Now, free: diskspace.Free, w: w, last: last}, nil
}

// openWALFiles opens the log in dir, first finishing a segment rotation
// that a crash (or a failed rotation, logreopen.go) interrupted. When that
// fails it returns the error and, if it could, the log opened with its
// sealed tail: readable, but refusing appends.
func openWALFiles(dir string, segSize int, log *slog.Logger) (*walFiles, error) {
	w, err := openWALOnce(dir, segSize, log)
	if err != nil || w.filer.sealedTail == nil {
		return w, err
	}
	t := *w.filer.sealedTail
	if err := w.close(); err != nil {
		return nil, err
	}
	log.Warn("finishing a raft log segment rotation that was interrupted", "segment", t.info.ID, "last_index", t.last)
	if err := finishRotation(dir, t, segSize); err != nil {
		err = fmt.Errorf("finish the rotation of segment %d: %w", t.info.ID, err)
		w, err2 := openWALOnce(dir, segSize, log)
		if err2 != nil {
			return nil, errors.Join(err, err2)
		}
		return w, err
	}
	w, err = openWALOnce(dir, segSize, log)
	if err == nil && w.filer.sealedTail != nil {
		_ = w.close()
		return nil, fmt.Errorf("segment %d still sealed after its rotation", t.info.ID)
	}
	return w, err
}

func openWALOnce(dir string, segSize int, log *slog.Logger) (*walFiles, error) {
	vfs := newWALFS()
	if err := prepareMeta(dir, vfs.syncDirs); err != nil {
		return nil, err
	}
	meta := &metadb.BoltMetaDB{}
	filer := &walFiler{Filer: segment.NewFiler(dir, vfs), dir: dir}
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithSegmentFiler(filer),
		raftwal.WithSegmentSize(segSize), raftwal.WithLogger(newHclog(log, "wal")))
	if err != nil {
		_ = meta.Close()
		return nil, err
	}
	return &walFiles{WAL: w, meta: meta, filer: filer}, nil
}

var (
	_ raft.LogStore    = (*logStore)(nil)
	_ raft.StableStore = (*logStore)(nil)
)
