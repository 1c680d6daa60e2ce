package consensus

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// flipIn flips one bit of the first occurrence of marker in the segment
// files of dir, delta bytes into it, and returns the file it changed.
func flipIn(t *testing.T, dir, marker string, delta int) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte(marker))
		if i < 0 {
			continue
		}
		b[i+delta] ^= 0x04
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(f)
	}
	t.Fatalf("%q not found in %s", marker, dir)
	return ""
}

// TestProbeBitrotToday records what raft-wal v0.4.0 does today with a flipped
// bit in a committed entry: it is the probe for issue 16 item 4.
func TestProbeBitrotToday(t *testing.T) {
	for _, c := range []struct {
		name  string
		index uint64
		delta int // from the entry's "entry N of term" text: its frame header is at -12, its length at -8
	}{
		{"data in a sealed segment", 10, 3},
		{"data in the open tail", 85, 3},
		{"length in a sealed segment's frame header", 10, -8},
		{"length in the open tail's frame header", 85, -8},
		{"type in a sealed segment's frame header", 10, -12},
		{"type in the open tail's frame header", 85, -12},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			appendEach(t, s, entries(1, 100, 1))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The entry's encoding: varint index, term, type, then the data's
			// length and bytes; its frame header is 8 bytes before the index.
			marker := fmt.Sprintf("entry %d of term 1 ", c.index)
			seg := flipIn(t, dir, marker, c.delta)
			s, err = openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Logf("reopen after the flip in %s: %v", seg, err)
				return
			}
			defer s.Close()
			first, _ := s.FirstIndex()
			last, _ := s.LastIndex()
			var l raft.Log
			err = s.GetLog(c.index, &l)
			want := entries(c.index, c.index, 1)[0]
			t.Logf("flip in %s: log %d-%d; GetLog(%d): err=%v term=%d data ok=%v (%.30q)", seg, first, last,
				c.index, err, l.Term, bytes.Equal(l.Data, want.Data), l.Data)
		})
	}
}
