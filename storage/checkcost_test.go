package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCheckCost measures Store.Check and a full open on a large store
// (CONCORD_CHECK_MB, e.g. 1024; skipped when unset): messages of 256 B to
// 16 KB in one channel, written in batches like the applier's. It reports
// the seconds, for docs/reliability.md; it asserts only that the store is
// intact.
func TestCheckCost(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("CONCORD_CHECK_MB"))
	if mb <= 0 {
		t.Skip("set CONCORD_CHECK_MB to measure Check on a store of that size")
	}
	dir := os.Getenv("CONCORD_CHECK_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "state.db")
	s := mustOpenAt(t, path)
	mustApply(t, s, entry(1, t0, mkChan("general")))
	start := time.Now()
	index, k, bytes := uint64(1), 0, 0
	for bytes < mb<<20 {
		var ops []Op
		for range 256 {
			size := 256 + (k*7919)%(16<<10)
			ops = append(ops, msg(fmt.Sprintf("m%09d", k), "general", strings.Repeat("x", size)))
			bytes += size
			k++
		}
		index++
		mustApply(t, s, entry(index, t0.Add(time.Duration(index)*time.Millisecond), ops...))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %d messages, %d MB of text, state.db %d MB, in %v", k, bytes>>20, fi.Size()>>20, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := s.Check(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("Check: %v (%.0f MB/s)", time.Since(start).Round(time.Millisecond), float64(fi.Size()>>20)/time.Since(start).Seconds())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, path)
	start = time.Now()
	s2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open without the full check (over %d MiB): %v", DefaultCheckOnOpenMax>>20, time.Since(start).Round(time.Millisecond))
	_ = s2.Close()
	cfg.CheckOnOpen = true
	start = time.Now()
	s3, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open with CheckOnOpen (file in the page cache): %v", time.Since(start).Round(time.Millisecond))
	_ = s3.Close()
	// A cold start (after a reboot): drop the page cache where allowed.
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		t.Logf("cannot drop the page cache (%v): no cold figure", err)
		return
	}
	start = time.Now()
	s4, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open with CheckOnOpen, cold page cache: %v", time.Since(start).Round(time.Millisecond))
	_ = s4.Close()
	// The tree walk alone (pagecheck.go), cold and then warm.
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
	for _, when := range []string{"cold", "warm"} {
		start = time.Now()
		if err := checkTreeFile(context.Background(), path, os.Getpagesize(), 0, true, true); err != nil {
			t.Fatal(err)
		}
		t.Logf("the tree walk alone, %s page cache: %v", when, time.Since(start).Round(time.Millisecond))
	}
}
