package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sampleFile builds a sample store and returns its bytes up to bbolt's
// high-water mark (the rest of the file is unused) and what it reads as.
//
// prev is what it read as before its last commit: bbolt keeps the meta page
// of the commit before the last, and falls back to it when the newer one is
// damaged. The store then holds the state before the last batch of entries,
// with the matching applied index, and Raft replays that batch from its log.
func sampleFile(t testing.TB) (file, view, prev []byte) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(Config{Path: path, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	fillSample(t, s, 60, func() {
		if prev, err = readAll(s); err != nil {
			t.Fatal(err)
		}
	})
	view, err = readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	size = sn.tx.Size()
	sn.Release()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return file[:size], view, prev
}

// flipOutcome opens file with bit flipped and reads everything: the reads
// must give the original view or an error wrapping ErrCorrupt, or, when the
// newest meta page is damaged, the view before the last commit (prev), a
// consistent state with its own applied index (Open's own commit rewrites
// the damaged meta page, so nothing is left to detect). It returns whether
// the damage was detected (some error) and whether the store went back a
// commit, or fails t.
//
// With checked, Open checks every record, as it does for any file up to
// DefaultCheckOnOpenMax; without it the reads face damaged records (Open
// walks bbolt's tree either way).
func flipOutcome(t testing.TB, dir string, file, view, prev []byte, bit int, checked bool) (detected, rolledBack bool) {
	t.Helper()
	b := bytes.Clone(file)
	b[bit/8] ^= 1 << (bit % 8)
	path := filepath.Join(dir, "state.db")
	if err := os.WriteFile(path, b, fileMode); err != nil {
		t.Fatal(err)
	}
	survey := os.Getenv("FLIP_SURVEY") != ""
	where := fmt.Sprintf("bit %d (page %d offset %d)", bit, bit/8/4096, bit/8%4096)
	cfg := Config{Path: path, Logger: discard, CheckOnOpenMax: -1}
	if checked {
		cfg.CheckOnOpenMax = 0
	}
	s, err := Open(cfg)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			if survey {
				t.Logf("SURVEY %s: Open: %v", where, err)
				return false, false
			}
			t.Fatalf("%s: Open: %v, want ErrCorrupt", where, err)
		}
		return true, false
	}
	defer s.Close()
	if s.AppliedIndex() < 66 { // the last batch is entries 66-69
		// Read as of the commit before the last.
		rolledBack = true
		view = prev
	}
	got, err := readAll(s)
	switch {
	case err != nil && !errors.Is(err, ErrCorrupt):
		if survey {
			t.Logf("SURVEY %s: read: %v", where, err)
			return false, false
		}
		t.Fatalf("%s: read: %v, want ErrCorrupt", where, err)
	case err == nil && !bytes.Equal(got, view):
		if survey {
			t.Logf("SURVEY %s: changed data: %s", where, diffKeys(got, view))
			return false, false
		}
		t.Fatalf("%s: the store reads changed data (%s) and no error:\n%s", where, diffKeys(got, view), got)
	}
	detected = err != nil
	cerr := s.Check(context.Background(), nil)
	if cerr != nil {
		if !errors.Is(cerr, ErrCorrupt) {
			t.Fatalf("%s: Check: %v, want ErrCorrupt", where, cerr)
		}
		detected = true
	}
	return detected, rolledBack
}

// flipStride is the distance between flipped bits: prime and odd, so that
// every bit position of a byte is hit. The full sweep (61) takes about a
// minute under the race detector; make test flips every 251st bit.
func flipStride() int {
	switch {
	case os.Getenv("CONCORD_BITFLIPS") != "":
		return 61
	case testing.Short():
		return 997
	}
	return 251
}

// TestBitFlips flips one bit at a time, at sampled offsets across the whole
// used part of a sample store, and opens it as a member does (a store this
// small is checked in full at open). Each time the store must read as
// before (or as of the commit before, if a meta page was hit) or refuse
// with ErrCorrupt: never changed data, never a panic.
func TestBitFlips(t *testing.T) {
	sweepFlips(t, true)
}

// TestBitFlipsUnchecked is TestBitFlips with the records not checked at
// open, as for a store over DefaultCheckOnOpenMax: bbolt's tree is still
// walked at open, and every record's checksum verified on read.
func TestBitFlipsUnchecked(t *testing.T) {
	sweepFlips(t, false)
}

func sweepFlips(t *testing.T, checked bool) {
	file, view, prev := sampleFile(t)
	dir := t.TempDir()
	tried, detected, rolledBack := 0, 0, 0
	for bit := 0; bit < len(file)*8; bit += flipStride() {
		tried++
		d, r := flipOutcome(t, dir, file, view, prev, bit, checked)
		if d {
			detected++
		}
		if r {
			rolledBack++
		}
	}
	t.Logf("%d-byte store: %d single-bit flips tried, %d detected (ErrCorrupt from Open, a read or Check), "+
		"%d not detected (harmless: bytes no read or check depends on, or a SURVEY line above); "+
		"%d of the detected read as the previous commit",
		len(file), tried, detected, tried-detected, rolledBack)
}

// FuzzOpenDamaged xors one byte of a sample store at a fuzzed offset.
func FuzzOpenDamaged(f *testing.F) {
	file, view, prev := sampleFile(f)
	f.Add(uint32(0), byte(1))
	f.Add(uint32(4096+16), byte(0x80))
	f.Add(uint32(len(file)-100), byte(0xff))
	f.Fuzz(func(t *testing.T, off uint32, mask byte) {
		if mask == 0 {
			return
		}
		b := bytes.Clone(file)
		b[int(off)%len(b)] ^= mask
		dir := t.TempDir()
		// flipOutcome flips one bit; hand it the damaged file with a no-op
		// flip of a bit past the sample (bit 0 flipped twice).
		b[0] ^= 1
		flipOutcome(t, dir, b, view, prev, 0, false)
	})
}

// diffKeys names the top-level parts of two readAll views that differ.
func diffKeys(a, b []byte) string {
	var x, y map[string]json.RawMessage
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	var out []string
	for k := range y {
		if !bytes.Equal(x[k], y[k]) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
