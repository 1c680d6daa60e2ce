package consensus

import (
	"concord/internal/smallfs"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fillDisk writes a file at path until its filesystem is full, then frees
// room bytes of it.
func fillDisk(t *testing.T, path string, room int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(max(st.Size()-room, 0)); err != nil {
		t.Fatal(err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// readWhile reads s as Raft's other goroutines do until stop is closed, and
// reports the first read that failed: a reopen must never show readers a
// closed log.
func readWhile(s *logStore, stop <-chan struct{}) <-chan error {
	out := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case <-stop:
				return
			default:
			}
			last, err := s.LastIndex()
			if err == nil && last > 0 {
				var l raft.Log
				err = s.GetLog(last, &l)
			}
			if err == nil {
				_, err = s.FirstIndex()
			}
			if err == nil {
				_, err = s.GetUint64([]byte("CurrentTerm"))
			}
			if err != nil {
				out <- err
				return
			}
		}
	}()
	return out
}

// A disk that fills at a segment rotation (one entry at a time) or in the
// middle of a batch written past a segment's preallocated end wedged
// raft-wal until a restart. Now the log reopens itself at the next append
// once space returns, keeps every entry it acknowledged, and reports the
// failure in between through Err.
func TestLogStoreRecoversFromFullDisk(t *testing.T) {
	tests := []struct {
		name  string
		batch uint64 // entries per append
		room  int64  // bytes left free on the disk
	}{
		{"one entry per append, full", 1, 0},
		{"one entry per append, a page free", 1, 4 << 10},
		{"one entry per append, two pages free", 1, 8 << 10},
		{"batches larger than a segment, full", 40, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, dir, clock := smallLogStore(t)
			if err := s.SetUint64([]byte("CurrentTerm"), 1); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			readErr := readWhile(s, stop)
			appendEach(t, s, entries(1, 30, 1)) // one rotation while there is room

			filler := filepath.Join(dir, "filler")
			fillDisk(t, filler, tc.room)
			next := uint64(31)
			var failed error
			for failed == nil && next < 1000 {
				es := entries(next, next+tc.batch-1, 1)
				if failed = s.StoreLogs(es); failed == nil {
					next += tc.batch
				}
			}
			if failed == nil {
				t.Fatal("no append failed on a full disk")
			}
			t.Logf("append of %d failed: %v", next, failed)
			if err := s.Err(); !errors.Is(err, ErrLogWrite) {
				t.Fatalf("Err() = %v on a full disk, want ErrLogWrite", err)
			}
			// Still full, a second later: the reopen fails, the log stays readable.
			clock.Add(reopenEvery)
			if err := s.StoreLogs(entries(next, next+tc.batch-1, 1)); err == nil {
				t.Fatal("append succeeded on a full disk")
			}
			checkLog(t, s, 1, next-1, func(uint64) uint64 { return 1 })

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			// Within reopenEvery of the last reopen: fail fast, no reopen.
			if err := s.StoreLogs(entries(next, next, 1)); !errors.Is(err, ErrLogWrite) {
				t.Fatalf("append right after a failed reopen: %v, want the wedging error", err)
			}
			clock.Add(reopenEvery)
			start := time.Now()
			if err := s.StoreLogs(entries(next, next+tc.batch-1, 1)); err != nil {
				t.Fatalf("append after space returned: %v", err)
			}
			t.Logf("the append that reopened the log took %v", time.Since(start))
			if err := s.Err(); err != nil {
				t.Fatalf("Err() = %v after a successful append", err)
			}
			last := next + tc.batch - 1
			appendEach(t, s, entries(last+1, last+60, 1)) // through more rotations
			last += 60
			close(stop)
			if err := <-readErr; err != nil {
				t.Fatalf("a concurrent read failed: %v", err)
			}
			checkLog(t, s, 1, last, func(uint64) uint64 { return 1 })
			if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1 {
				t.Fatalf("CurrentTerm %d, %v", v, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("reopen from scratch: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			checkLog(t, s, 1, last, func(uint64) uint64 { return 1 })
		})
	}
}

// A member whose log cannot be written refuses probes, so the leader may
// retire it from the Raft configuration, and then Raft sends it no entries
// to retry. heal must find out by itself that the log can be written once
// space returns (seen in the chaos suite's wedged-rotation scenario with 5
// members: the retired member reported write_failed until restarted), and
// not while the disk is still full.
func TestLogStoreHealsWithoutAppends(t *testing.T) {
	s, dir, clock := smallLogStore(t)
	s.heal() // nothing failed: nothing to do
	appendEach(t, s, entries(1, 30, 1))

	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler, 0)
	next := uint64(31)
	for s.StoreLogs(entries(next, next, 1)) == nil {
		if next++; next == 1000 {
			t.Fatal("no append failed on a full disk")
		}
	}
	for range 3 {
		clock.Add(reopenEvery)
		s.heal()
		if err := s.Err(); !errors.Is(err, ErrLogWrite) {
			t.Fatalf("Err() = %v after heal on a disk still full, want ErrLogWrite", err)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clock.Add(reopenEvery)
	s.heal()
	if err := s.Err(); err != nil {
		t.Fatalf("Err() = %v after heal with space back", err)
	}
	appendEach(t, s, entries(next, next+60, 1))
	checkLog(t, s, 1, next+60, func(uint64) uint64 { return 1 })
}

// raft-wal commits a tail truncation to its meta store before it creates
// the new tail's segment file, and a failed creation (a full disk) leaves
// that file behind: every retry then failed with "file exists", so a
// follower could not drop the uncommitted entries it had written as a
// leader and took no entries until the leader sent it a snapshot (seen in
// the chaos suite's wedged-rotation scenario: minutes). A failed truncation
// now reopens the log at the next call, which adopts what the meta store
// recorded, and Raft's retry goes through.
func TestLogStoreTruncatesAfterFullDisk(t *testing.T) {
	s, dir, clock := smallLogStore(t)
	appendEach(t, s, entries(1, 40, 1)) // a few segments

	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler, 0)
	if err := s.DeleteRange(38, 40); err == nil {
		t.Fatal("a tail truncation needs a new segment, but it worked on a full disk")
	} else {
		t.Logf("truncation on a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clock.Add(reopenEvery)
	if err := s.DeleteRange(38, 40); err != nil {
		t.Fatalf("the truncation retried once space returned: %v", err)
	}
	if err := s.StoreLogs(entries(38, 45, 2)); err != nil {
		t.Fatalf("append after the truncation: %v", err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err() = %v after a successful append", err)
	}
	termOf := func(i uint64) uint64 {
		if i >= 38 {
			return 2
		}
		return 1
	}
	checkLog(t, s, 1, 45, termOf)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen from scratch: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	checkLog(t, s, 1, 45, termOf)
}

// smallLogStore opens a log store on a 256 KiB filesystem of its own, with
// a fake clock for its reopen pacing; closed at the end of the test.
func smallLogStore(t *testing.T) (*logStore, string, *fakeClock) {
	t.Helper()
	dir := smallfs.Mount(t, 256<<10)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s, err := openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.RLock()
		closed := s.closed
		s.mu.RUnlock()
		if !closed { // a test may close it itself
			s.Close()
		}
	})
	s.now = clock.Now
	return s, dir, clock
}
