package consensus

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// scrubLog writes entries 1-60 in batches of five and 61-100 one at a time
// into a log of small segments, as Raft does under load and under light
// load, and returns its directory.
func scrubLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 60; i += 5 {
		if err := s.StoreLogs(entries(i, i+4, 1)); err != nil {
			t.Fatal(err)
		}
	}
	appendEach(t, s, entries(61, 100, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// segmentOf returns the segment holding index and its file.
func segmentOf(t *testing.T, dir string, index uint64) (types.SegmentInfo, string) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	st, err := meta.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	for i, s := range st.Segments {
		if index >= s.BaseIndex && (i == len(st.Segments)-1 || index < st.Segments[i+1].BaseIndex) {
			return s, filepath.Join(dir, segment.FileName(s))
		}
	}
	t.Fatalf("no segment holds %d", index)
	return types.SegmentInfo{}, ""
}

// entryFrame returns the file offset of the frame of entry index (term 1).
func entryFrame(t *testing.T, file string, index uint64) int64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, fmt.Appendf(nil, "entry %d of term 1 ", index))
	if i < 0 {
		t.Fatalf("entry %d not in %s", index, file)
	}
	return int64(i) - 12 // frame header, then varints: index, term, type, data length
}

func flipAt(t *testing.T, file string, off int64, mask byte) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= mask
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestScrubWAL(t *testing.T) {
	sealed, tail := true, false
	cases := []struct {
		name   string
		index  uint64 // the entry damaged, in a sealed segment or the tail
		sealed bool
		damage func(t *testing.T, file string, info types.SegmentInfo)
		want   [][2]uint64
	}{
		{"clean", 12, sealed, func(*testing.T, string, types.SegmentInfo) {}, nil},
		{"data in a sealed batch", 12, sealed, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 12)+20, 0x10)
		}, [][2]uint64{{11, 15}}},
		{"data of a single-entry batch in a sealed segment", 70, sealed, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 70)+20, 0x01)
		}, [][2]uint64{{70, 70}}},
		{"data in the tail's committed part", 90, tail, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 90)+20, 0x80)
		}, [][2]uint64{{90, 90}}},
		{"frame type in a sealed segment", 12, sealed, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 12), 0x04)
		}, [][2]uint64{{11, 15}}},
		{"frame length in a sealed segment", 12, sealed, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 12)+4, 0x20)
		}, [][2]uint64{{11, 15}}},
		{"commit frame CRC in a sealed segment", 70, sealed, func(t *testing.T, f string, _ types.SegmentInfo) {
			e := entryFrame(t, f, 70)
			b, _ := os.ReadFile(f)
			flipAt(t, f, e+frameLen(binary.LittleEndian.Uint32(b[e+4:]))+5, 0x01)
		}, [][2]uint64{{70, 70}}},
		{"file header of a sealed segment", 12, sealed, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, 9, 0x01) // BaseIndex, covered by the first batch's CRC
		}, [][2]uint64{{^uint64(0), 0}}}, // filled in: the segment's first batch
		{"index frame of a sealed segment", 12, sealed, func(t *testing.T, f string, info types.SegmentInfo) {
			flipAt(t, f, int64(info.IndexStart)+4*int64(12-info.BaseIndex), 0x08)
		}, [][2]uint64{{12, 12}, {^uint64(1), 0}}}, // and the segment's last batch, whose CRC covers the index
		// raft-wal's recovery stops at the unreadable frame and drops 90-100.
		{"frame type in the tail", 90, tail, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 90), 0x04)
		}, [][2]uint64{{90, 100}}},
		// A torn write: the last batch's commit frame made it, its data not.
		{"torn last batch of the tail", 100, tail, func(t *testing.T, f string, _ types.SegmentInfo) {
			flipAt(t, f, entryFrame(t, f, 100)+20, 0x02)
		}, nil},
		// A torn write: the last batch's entry made it, its commit frame not.
		{"tail ending without its commit frame", 100, tail, func(t *testing.T, f string, _ types.SegmentInfo) {
			e := entryFrame(t, f, 100)
			b, _ := os.ReadFile(f)
			flipAt(t, f, e+frameLen(binary.LittleEndian.Uint32(b[e+4:])), frameCommit)
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := scrubLog(t)
			info, file := segmentOf(t, dir, c.index)
			if got := !info.SealTime.IsZero(); got != c.sealed {
				t.Fatalf("entry %d: sealed %v, want %v: the test log's layout changed", c.index, got, c.sealed)
			}
			c.damage(t, file, info)
			got, err := scrubWAL(dir)
			if err != nil {
				t.Fatal(err)
			}
			var ranges [][2]uint64
			for _, d := range got {
				ranges = append(ranges, [2]uint64{d.First, d.Last})
				if d.Segment != info.ID {
					t.Errorf("%v: segment %d, want %d", d, d.Segment, info.ID)
				}
				t.Logf("%v", d)
			}
			want := slices.Clone(c.want)
			for i, w := range want {
				b := batchesOf(t, file, info)
				switch w[0] {
				case ^uint64(0):
					want[i] = b[0]
				case ^uint64(1):
					want[i] = b[len(b)-1]
				}
			}
			if !slices.Equal(ranges, want) {
				t.Fatalf("damage %v, want %v", ranges, want)
			}
			// What raft-wal serves after the damage: a torn tail ends the log
			// at 99, anything else leaves 1-100 (or fails to open).
			if len(want) == 0 {
				s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				last, _ := s.LastIndex()
				if wantLast := uint64(map[bool]int{true: 100, false: 99}[c.name == "clean"]); last != wantLast {
					t.Fatalf("raft-wal reopens with last index %d, want %d", last, wantLast)
				}
			}
		})
	}
}

// batchesOf returns the index ranges of a clean segment's batches.
func batchesOf(t *testing.T, file string, info types.SegmentInfo) [][2]uint64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &segScrub{data: data, info: info, offsets: map[uint64]int64{}}
	s.walk()
	var out [][2]uint64
	for _, b := range s.batches {
		out = append(out, [2]uint64{b.first, b.first + b.n - 1})
	}
	return out
}

// BenchmarkScrubWAL scrubs a log of about 64 MB of 1 KB entries written in
// batches of 64, in 8 MB segments (the default size).
func BenchmarkScrubWAL(b *testing.B) {
	dir := b.TempDir()
	s, err := openWAL(dir, defaultWALSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1000)
	idx := uint64(1)
	for idx < 64<<10 {
		var es = entries(idx, idx+63, 1)
		for _, e := range es {
			e.Data = data
			e.AppendedAt = time.Now()
		}
		if err := s.StoreLogs(es); err != nil {
			b.Fatal(err)
		}
		idx += 64
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	var size int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		d, err := scrubWAL(dir)
		if err != nil || len(d) > 0 {
			b.Fatal(d, err)
		}
	}
}
