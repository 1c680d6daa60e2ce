package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
)

// defaultWALSegment is the size of one Raft log segment file. raft-wal
// frees log space a whole segment at a time, so up to one segment of
// entries older than the last snapshot stays on disk.
const defaultWALSegment = 8 << 20

// logStore is the Raft log and stable store: raft-wal, which appends a batch
// of entries with one fsync (raft-boltdb needs two; docs/benchmarks.md).
type logStore struct {
	*raftwal.WAL
	meta  *metadb.BoltMetaDB // raft-wal's Close leaves its meta store open
	filer *walFiler
}

// rotationWait bounds how long a truncation waits for a pending segment
// rotation (a metadata write and a file creation: milliseconds).
const rotationWait = 10 * time.Second

// DeleteRange drops entries from the head (compaction) or the tail (a
// follower's entries that the leader never had). It first waits for a
// segment rotation the last append started: raft-wal v0.4.0 rotates in the
// background, and a truncation that runs before the rotation corrupts its
// segment list (the rotation then seals the segment the truncation just
// created and starts another at index 1: TestLogStoreTruncatesRightAfterSeal).
func (s *logStore) DeleteRange(min, max uint64) error {
	if err := s.filer.awaitRotation(rotationWait); err != nil {
		return err
	}
	return s.WAL.DeleteRange(min, max)
}

// Close closes the log and its meta store.
func (s *logStore) Close() error {
	err := errors.Join(s.WAL.Close(), s.meta.Close())
	s.filer.rotated()
	return err
}

// openLogStore opens the Raft log in dir/wal, first moving a log that an
// earlier version kept in dir/raft.db into it.
func openLogStore(dir string, segSize int, log *slog.Logger) (*logStore, error) {
	walDir := filepath.Join(dir, "wal")
	if err := migrateBoltLog(dir, walDir, segSize, log); err != nil {
		return nil, err
	}
	s, err := openWAL(walDir, segSize, log)
	if err != nil {
		return nil, fmt.Errorf("consensus: open raft log %s: %w", walDir, err)
	}
	return s, nil
}

func openWAL(dir string, segSize int, log *slog.Logger) (*logStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s, err := openWALOnce(dir, segSize, log)
	if err != nil || s.filer.sealedTail == nil {
		return s, err
	}
	t := *s.filer.sealedTail
	if err := s.Close(); err != nil {
		return nil, err
	}
	log.Warn("finishing a raft log segment rotation that a crash interrupted", "segment", t.info.ID, "last_index", t.last)
	if err := finishRotation(dir, t, segSize); err != nil {
		return nil, fmt.Errorf("finish the rotation of segment %d: %w", t.info.ID, err)
	}
	s, err = openWALOnce(dir, segSize, log)
	if err == nil && s.filer.sealedTail != nil {
		_ = s.Close()
		return nil, fmt.Errorf("segment %d still sealed after its rotation", t.info.ID)
	}
	return s, err
}

func openWALOnce(dir string, segSize int, log *slog.Logger) (*logStore, error) {
	meta := &metadb.BoltMetaDB{}
	filer := &walFiler{Filer: segment.NewFiler(dir, fs.New()), dir: dir}
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithSegmentFiler(filer),
		raftwal.WithSegmentSize(segSize), raftwal.WithLogger(newHclog(log, "wal")))
	if err != nil {
		_ = meta.Close()
		return nil, err
	}
	return &logStore{WAL: w, meta: meta, filer: filer}, nil
}

var (
	_ raft.LogStore    = (*logStore)(nil)
	_ raft.StableStore = (*logStore)(nil)
)
