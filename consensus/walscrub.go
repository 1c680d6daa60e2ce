package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// walDamage is a run of Raft log entries whose bytes on disk are not the
// ones that were committed (bitrot, a misdirected write): raft-wal v0.4.0
// would serve them as they are, or, in its open tail, silently drop them
// and every committed entry after them.
type walDamage struct {
	Segment     uint64 // raft-wal's segment ID
	First, Last uint64 // the damaged Raft indexes, inclusive
	Offset      int64  // where in the segment file the damage was found
	Why         string
}

func (d walDamage) String() string {
	return fmt.Sprintf("entries %d-%d (segment %d, offset %d: %s)", d.First, d.Last, d.Segment, d.Offset, d.Why)
}

// Frame types and sizes of raft-wal's segment format (segment/format.go).
const (
	frameEntry     = 1
	frameCommit    = 3
	fileHeaderLen  = 32
	walIndexLenMax = 1 << 30
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// scrubWAL reads every segment of the raft-wal log in dir, the sealed ones
// and the open tail, frame by frame, and verifies each commit frame's
// CRC32C over its batch and each sealed segment's index frame. raft-wal
// itself checks only the tail's last batch, at open, to tell a torn write
// from a committed one; the tail's last batch is judged here exactly as it
// does, so a torn write (power loss) is not reported: raft-wal drops it and
// Raft resends it. Only entries raft-wal would serve (MinIndex up) count.
func scrubWAL(dir string) ([]walDamage, error) {
	if _, err := os.Stat(filepath.Join(dir, metadb.FileName)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no log yet
	}
	meta := &metadb.BoltMetaDB{}
	st, err := meta.Load(dir)
	if cerr := meta.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read the raft log's metadata: %w", err)
	}
	var out []walDamage
	for _, info := range st.Segments {
		data, err := os.ReadFile(filepath.Join(dir, segment.FileName(info)))
		if err != nil {
			return nil, err
		}
		out = append(out, scrubSegment(data, info)...)
	}
	return out, nil
}

// scrubBatch is one committed batch: the frames after the previous commit
// frame (the file header too, for the first) up to its commit frame.
type scrubBatch struct {
	start, commit int64
	first, n      uint64 // Raft index of its first entry, and how many
	ok            bool   // the commit frame's CRC matches
}

type segScrub struct {
	data    []byte
	info    types.SegmentInfo
	batches []scrubBatch
	offsets map[uint64]int64 // entry frame offsets found, by Raft index
	breaks  []walDamage      // unreadable frames with committed data after them
	pending uint64           // entries after the last commit frame
}

// scrubSegment returns the damaged entries of one segment file.
func scrubSegment(data []byte, info types.SegmentInfo) []walDamage {
	s := &segScrub{data: data, info: info, offsets: map[uint64]int64{}}
	s.walk()
	return s.judge()
}

// header decodes the frame header at pos as raft-wal's readFrameHeader
// does; end is true for zeros or the end of the file (the end of the data).
func (s *segScrub) header(pos int64) (typ uint8, length uint32, end, ok bool) {
	if pos+8 > int64(len(s.data)) {
		return 0, 0, true, true
	}
	h := s.data[pos : pos+8]
	typ, length = h[0], binary.LittleEndian.Uint32(h[4:])
	switch {
	case h[1] != 0 || h[2] != 0 || h[3] != 0:
		return 0, 0, false, false
	case typ == 0:
		return 0, 0, length == 0, length == 0
	case typ > frameCommit:
		return 0, 0, false, false
	case typ == frameCommit:
		return typ, 0, false, true
	}
	if pos+8+int64(length) > int64(len(s.data)) {
		return 0, 0, false, false
	}
	return typ, length, false, true
}

func frameLen(length uint32) int64 { return 8 + int64(length+7)&^7 }

func (s *segScrub) walk() {
	pos, start := int64(fileHeaderLen), int64(0)
	next := s.info.BaseIndex
	first := next
	for {
		typ, length, end, ok := s.header(pos)
		if end {
			break
		}
		if !ok {
			resume, idx := s.resync(pos)
			if resume < 0 {
				break // a torn write, or damage judge finds by what is missing
			}
			s.breaks = append(s.breaks, walDamage{Segment: s.info.ID, First: first, Last: idx - 1,
				Offset: pos, Why: "unreadable frame header"})
			pos, start, next, first = resume, resume, idx, idx
			continue
		}
		switch typ {
		case frameEntry:
			s.offsets[next] = pos
			next++
		case frameCommit:
			crc := crc32.Checksum(s.data[start:pos], crc32c)
			s.batches = append(s.batches, scrubBatch{start: start, commit: pos, first: first, n: next - first,
				ok: crc == binary.LittleEndian.Uint32(s.data[pos+4:])})
			start, first = pos+8, next
		}
		pos += frameLen(length)
	}
	s.pending = next - first
}

// resync finds the first batch after an unreadable frame at pos whose
// frames parse and whose commit CRC matches: committed data after damage.
// A batch starts right after the bad frame or after a commit frame. It
// returns the batch's offset and the Raft index of its first entry (the
// codec's first field), or -1.
func (s *segScrub) resync(pos int64) (int64, uint64) {
	for at := pos + 8; at+8 <= int64(len(s.data)); at += 8 {
		h := s.data[at-8 : at]
		if at != pos+8 && (h[0] != frameCommit || h[1]|h[2]|h[3] != 0) {
			continue
		}
		if idx, ok := s.verifyBatch(at); ok {
			return at, idx
		}
	}
	return -1, 0
}

func (s *segScrub) verifyBatch(at int64) (uint64, bool) {
	var first uint64
	for pos := at; ; {
		typ, length, end, ok := s.header(pos)
		if end || !ok {
			return 0, false
		}
		switch typ {
		case frameEntry:
			if first == 0 {
				idx, n := binary.Uvarint(s.data[pos+8 : pos+8+int64(length)])
				if n <= 0 || idx < s.info.BaseIndex {
					return 0, false
				}
				first = idx
			}
		case frameCommit:
			crc := crc32.Checksum(s.data[at:pos], crc32c)
			return first, first != 0 && crc == binary.LittleEndian.Uint32(s.data[pos+4:])
		}
		pos += frameLen(length)
	}
}

// judge lists the entries raft-wal would serve from this segment that no
// intact committed batch holds. In a segment read like a tail (the open
// one, or one raft-wal sealed at a tail truncation without an index), the
// last batch is torn, not damaged, exactly when raft-wal's recovery says
// so: its commit frame is the last frame and its CRC fails. And the open
// tail loses everything after an unreadable frame at open.
func (s *segScrub) judge() []walDamage {
	info, b := s.info, s.batches
	if info.IndexStart == 0 && len(s.breaks) == 0 && s.pending == 0 && len(b) > 0 && !b[len(b)-1].ok {
		b = b[:len(b)-1] // torn: raft-wal drops it at open
	}
	last := info.MaxIndex // what raft-wal serves
	if info.SealTime.IsZero() {
		last = info.BaseIndex - 1
		if len(b) > 0 {
			last = b[len(b)-1].first + b[len(b)-1].n - 1
		}
	}
	lo := max(info.MinIndex, info.BaseIndex)
	if last < lo || last-lo > walIndexLenMax {
		return nil
	}
	good := make([]bool, last-lo+1)
	why := make([]walDamage, len(good))
	mark := func(first, n uint64, ok bool, d walDamage) {
		for i := first; i < first+n && i <= last; i++ {
			if i >= lo {
				good[i-lo] = ok
				if !ok {
					why[i-lo] = d
				}
			}
		}
	}
	for i := range why {
		why[i] = walDamage{Offset: -1, Why: "not in any committed batch"}
	}
	for _, x := range b {
		mark(x.first, x.n, x.ok, walDamage{Offset: x.commit, Why: "batch checksum mismatch"})
	}
	for _, d := range s.breaks {
		mark(d.First, d.Last-d.First+1, false, d)
		if info.IndexStart == 0 && d.Last < last { // raft-wal's recovery stops there
			mark(d.Last+1, last-d.Last, false, walDamage{Offset: d.Offset,
				Why: "after an unreadable frame header: raft-wal drops them at open"})
		}
	}
	s.checkIndex(lo, last, good, why)
	var out []walDamage
	for i := range good {
		if good[i] {
			continue
		}
		idx := lo + uint64(i)
		if n := len(out); n > 0 && out[n-1].Last == idx-1 {
			out[n-1].Last = idx
			continue
		}
		d := why[i]
		d.Segment, d.First, d.Last = info.ID, idx, idx
		out = append(out, d)
	}
	return out
}

// checkIndex compares a sealed segment's index frame, through which
// raft-wal finds every entry it reads, with the entry frames found.
func (s *segScrub) checkIndex(lo, last uint64, good []bool, why []walDamage) {
	if s.info.IndexStart == 0 {
		return
	}
	at := int64(s.info.IndexStart) - 8
	typ, length, _, ok := s.header(at)
	n := uint64(length / 4)
	if !ok || typ != frameIndex || n < last-s.info.BaseIndex+1 {
		for i := range good {
			good[i], why[i] = false, walDamage{Offset: at, Why: "index frame unreadable"}
		}
		return
	}
	for idx := lo; idx <= last; idx++ {
		o := binary.LittleEndian.Uint32(s.data[at+8+int64(idx-s.info.BaseIndex)*4:])
		if off, found := s.offsets[idx]; good[idx-lo] && (!found || int64(o) != off) {
			good[idx-lo], why[idx-lo] = false, walDamage{Offset: at, Why: "index frame points elsewhere"}
		}
	}
}
