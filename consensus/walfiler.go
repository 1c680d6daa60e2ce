package consensus

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// walFiler is raft-wal's segment filer with what logStore needs to work
// around three bugs of v0.4.0, the newest version served here.
//
// It opens the segments that v0.4.0 seals when Raft truncates the log's
// tail: that version records such a segment as sealed without writing its
// index block, so reopening the log failed with "sealed segment has no
// index block" (hashicorp/raft-wal#31; the fix, ForceSeal, came later). For
// such a segment the index is rebuilt by reading its frames, as raft-wal
// does for the open tail after a crash; the WAL reads a sealed segment only
// up to the MaxIndex it recorded at truncation, so the entries dropped there
// are never served.
//
// It tells logStore when a segment rotation is pending: from an append
// that filled the tail until the rotation creates the next segment
// (walFiles.deleteRange waits for it). And it notes an open tail found
// sealed at open, a rotation a crash interrupted (finishRotation).
type walFiler struct {
	*segment.Filer
	dir     string
	mu      sync.Mutex
	pending chan struct{} // closed when the pending rotation has created its segment
	// sealedTail is the open tail found sealed at open: a crash came
	// between the append that sealed it and the rotation (finishRotation).
	sealedTail *sealedTail
}

type sealedTail struct {
	info       types.SegmentInfo
	indexStart uint64
	last       uint64
}

func (f *walFiler) Create(info types.SegmentInfo) (types.SegmentWriter, error) {
	defer f.rotated()
	w, err := f.Filer.Create(info)
	if err != nil {
		return nil, err
	}
	return sealWatch{w, f}, nil
}

func (f *walFiler) RecoverTail(info types.SegmentInfo) (types.SegmentWriter, error) {
	w, err := f.Filer.RecoverTail(info)
	if err != nil {
		return nil, err
	}
	if sealed, indexStart, _ := w.Sealed(); sealed {
		torn, err := f.tornSeal(info, indexStart, w.LastIndex())
		if err != nil {
			_ = w.Close()
			return nil, err
		}
		if torn {
			if w, err = f.Filer.RecoverTail(info); err != nil {
				return nil, err
			}
		} else {
			f.sealedTail = &sealedTail{info: info, indexStart: indexStart, last: w.LastIndex()}
		}
	}
	return sealWatch{w, f}, nil
}

// Segment frame types and header size of raft-wal's format (segment/format.go).
const (
	frameIndex     = 2
	frameHeaderLen = 8
)

// tornSeal reports whether the index frame that sealed the recovered tail
// belongs to a batch whose commit never reached the disk (the append that
// wrote it failed, e.g. ENOSPC past the segment's preallocated end, or a
// crash tore it). raft-wal v0.4.0's recovery drops that batch's entries but
// keeps the tail sealed at the uncommitted index: rotating it then records
// an index block that is not on disk, and the entries of the whole segment
// read as "failed to read segment index: EOF". An index frame lists every
// entry of its segment, so it is committed only when it lists exactly the
// committed entries. A torn one is zeroed (it lies past the last commit, so
// raft-wal overwrites it with the next append anyway) for the caller to
// recover the tail again, unsealed.
func (f *walFiler) tornSeal(info types.SegmentInfo, indexStart, last uint64) (bool, error) {
	file, err := os.OpenFile(filepath.Join(f.dir, segment.FileName(info)), os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer file.Close()
	var h [frameHeaderLen]byte
	if _, err := file.ReadAt(h[:], int64(indexStart)-frameHeaderLen); err != nil {
		return false, fmt.Errorf("read the index frame of segment %d: %w", info.ID, err)
	}
	var committed uint64
	if last >= info.BaseIndex {
		committed = last - info.BaseIndex + 1
	}
	if h[0] != frameIndex {
		return false, fmt.Errorf("segment %d: no index frame at %d", info.ID, indexStart-frameHeaderLen)
	}
	if uint64(binary.LittleEndian.Uint32(h[4:]))/4 == committed {
		return false, nil
	}
	var zero [frameHeaderLen]byte
	if _, err := file.WriteAt(zero[:], int64(indexStart)-frameHeaderLen); err != nil {
		return false, err
	}
	return true, file.Sync()
}

func (f *walFiler) Open(info types.SegmentInfo) (types.SegmentReader, error) {
	if info.IndexStart != 0 {
		return f.Filer.Open(info)
	}
	w, err := f.Filer.RecoverTail(info)
	if err != nil {
		return nil, fmt.Errorf("segment %d sealed by a tail truncation: %w", info.ID, err)
	}
	return w, nil // a reader only: the WAL never appends to a sealed segment
}

func (f *walFiler) sealed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == nil {
		f.pending = make(chan struct{})
	}
}

func (f *walFiler) rotated() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending != nil {
		close(f.pending)
		f.pending = nil
	}
}

func (f *walFiler) awaitRotation(limit time.Duration) error {
	f.mu.Lock()
	ch := f.pending
	f.mu.Unlock()
	if ch == nil {
		return nil
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return fmt.Errorf("consensus: raft log segment rotation still pending after %v", limit)
	}
}

// sealWatch is a segment writer that reports when an append sealed it.
type sealWatch struct {
	types.SegmentWriter
	f *walFiler
}

func (w sealWatch) Append(entries []types.LogEntry) error {
	err := w.SegmentWriter.Append(entries)
	if sealed, _, _ := w.SegmentWriter.Sealed(); sealed {
		w.f.sealed()
	}
	return err
}

// finishRotation does, for a log that is closed, what raft-wal's rotation
// would have done after the append that sealed t: record the segment as
// sealed and add the next, empty segment. v0.4.0 reopens a log whose tail
// was sealed but not rotated with a tail that refuses every append. The new
// segment's file is created before the metadata names it: after a crash in
// between, raft-wal deletes the file it does not know and we start again.
func finishRotation(dir string, t sealedTail, segSize int) error {
	meta := &metadb.BoltMetaDB{}
	st, err := meta.Load(dir)
	if err != nil {
		return err
	}
	defer meta.Close()
	n := len(st.Segments)
	if n == 0 || st.Segments[n-1].ID != t.info.ID || !st.Segments[n-1].SealTime.IsZero() {
		return fmt.Errorf("raft log metadata does not end with segment %d open", t.info.ID)
	}
	now := time.Now()
	tail := &st.Segments[n-1]
	tail.SealTime, tail.MaxIndex, tail.IndexStart = now, t.last, t.indexStart
	next := types.SegmentInfo{ID: st.NextSegmentID, BaseIndex: t.last + 1, MinIndex: t.last + 1,
		SizeLimit: uint32(segSize), Codec: raftwal.CodecBinaryV1, CreateTime: now}
	w, err := segment.NewFiler(dir, newWALFS()).Create(next)
	if err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	st.NextSegmentID++
	st.Segments = append(st.Segments, next)
	return meta.CommitState(st)
}
