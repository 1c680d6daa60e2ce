package diskspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"concord/internal/testutil"
)

const (
	mb = 1 << 20
	gb = 1 << 30
)

// fakeDisk is an injected Free: the test sets what the next reading sees.
type fakeDisk struct {
	mu          sync.Mutex
	free, total uint64
	err         error
	reads       int
}

func (d *fakeDisk) set(free, total uint64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.free, d.total, d.err = free, total, err
}

func (d *fakeDisk) Free(string) (uint64, uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	return d.free, d.total, d.err
}

func mustNewWatcher(t *testing.T, cfg Config) *Watcher {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestLevelThresholds(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		free, total uint64
		want        Level
	}{
		{"big disk, plenty", Config{}, 100 * gb, 1000 * gb, OK},
		{"big disk: 200 MB is smaller than 2 %", Config{}, 199 * mb, 1000 * gb, Low},
		{"big disk just above 200 MB", Config{}, 200 * mb, 1000 * gb, OK},
		{"small disk: 2 % is smaller than 200 MB", Config{}, 100 * mb, 4 * gb, OK},
		{"small disk below 2 %", Config{}, 80 * mb, 4 * gb, Low},
		{"below 16 MB is full", Config{}, 15 * mb, 1000 * gb, Full},
		{"exactly 16 MB is low, not full", Config{}, 16 * mb, 1000 * gb, Low},
		{"nothing free", Config{}, 0, 1000 * gb, Full},
		{"tiny filesystem: 2 % is under the full mark", Config{}, 17 * mb, 64 * mb, OK},
		{"LowBytes alone when LowPercent is negative", Config{LowBytes: 500 * mb, LowPercent: -1}, 400 * mb, 4 * gb, Low},
		{"custom full mark", Config{FullBytes: 100 * mb}, 99 * mb, 1000 * gb, Full},
		{"unknown total: LowBytes", Config{}, 150 * mb, 0, Low},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.withDefaults().levelOf(tt.free, tt.total); got != tt.want {
				t.Errorf("levelOf(%d, %d) = %s, want %s", tt.free, tt.total, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"path", Config{Path: "x"}, true},
		{"no path", Config{}, false},
		{"negative interval", Config{Path: "x", Interval: -time.Second}, false},
		{"percent above 100", Config{Path: "x", LowPercent: 101}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestWatcherTransitions drives a watcher through ok → low → full → ok with
// injected readings and ticks, and checks each change is announced.
func TestWatcherTransitions(t *testing.T) {
	disk := &fakeDisk{}
	disk.set(50*gb, 1000*gb, nil)
	ticks := make(chan time.Time)
	w := mustNewWatcher(t, Config{Free: disk.Free, Ticks: ticks})
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := w.State(); s.Level != OK || s.Free != 50*gb || s.Total != 1000*gb {
		t.Fatalf("after Start: %+v", s)
	}
	steps := []struct {
		free    uint64
		want    Level
		changes bool
	}{
		{40 * gb, OK, false},
		{150 * mb, Low, true},
		{100 * mb, Low, false},
		{10 * mb, Full, true},
		{0, Full, false},
		{300 * mb, OK, true},
	}
	for i, s := range steps {
		changed := w.Changed()
		disk.set(s.free, 1000*gb, nil)
		ticks <- time.Time{} // unbuffered: the watcher has it
		// The reading follows the tick in the watcher's goroutine: wait
		// for it by the free bytes, which every step changes.
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("step %d's reading (%d free)", i, s.free),
			func() bool { return w.State().Free == s.free })
		if got := w.State().Level; got != s.want {
			t.Fatalf("step %d (%d free): level %s, want %s", i, s.free, got, s.want)
		}
		select {
		case <-changed:
			if !s.changes {
				t.Fatalf("step %d: announced a change from %s to %s", i, steps[max(i-1, 0)].want, s.want)
			}
		default:
			if s.changes {
				t.Fatalf("step %d: change to %s not announced", i, s.want)
			}
		}
	}
}

// TestWatcherReadError keeps the last good reading when a reading fails.
func TestWatcherReadError(t *testing.T) {
	disk := &fakeDisk{}
	disk.set(10*mb, gb, nil)
	w := mustNewWatcher(t, Config{Free: disk.Free, Ticks: make(chan time.Time)})
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	disk.set(0, 0, boom)
	if s, err := w.Check(t.Context()); !errors.Is(err, boom) || s.Level != Full || s.Free != 10*mb {
		t.Fatalf("Check after a failed read = %+v, %v; want the last state and the error", s, err)
	}
}

// TestWatcherTicks checks that the watcher reads on its own with the real
// ticker.
func TestWatcherTicks(t *testing.T) {
	disk := &fakeDisk{}
	disk.set(gb, 10*gb, nil)
	w := mustNewWatcher(t, Config{Free: disk.Free, Interval: time.Millisecond})
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	disk.set(mb, 10*gb, nil)
	select {
	case <-w.Changed():
	case <-time.After(10 * time.Second):
	}
	if got := w.State().Level; got != Full {
		t.Fatalf("level %s, want full", got)
	}
}

// TestCloseWaits checks that Close returns only once the goroutine has
// stopped: no reading happens after it, and a second Close is harmless.
func TestCloseWaits(t *testing.T) {
	disk := &fakeDisk{}
	disk.set(gb, 10*gb, nil)
	ticks := make(chan time.Time)
	w := mustNewWatcher(t, Config{Free: disk.Free, Ticks: ticks})
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ticks <- time.Time{}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case ticks <- time.Time{}:
		t.Fatal("the watcher still takes ticks after Close")
	case <-time.After(50 * time.Millisecond):
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseBeforeStart: Close of a watcher never started returns, and a
// later Start starts nothing.
func TestCloseBeforeStart(t *testing.T) {
	w := mustNewWatcher(t, Config{Free: (&fakeDisk{}).Free})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w.done != nil {
		t.Fatal("Start after Close started the goroutine")
	}
}

func TestStartCanceled(t *testing.T) {
	w := mustNewWatcher(t, Config{Free: (&fakeDisk{}).Free, Ticks: make(chan time.Time)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Start(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a canceled ctx = %v", err)
	}
}

// TestFreeReal reads the real filesystem of a temp dir.
func TestFreeReal(t *testing.T) {
	free, total, err := Free(t.TempDir())
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || free > total {
		t.Fatalf("Free = %d of %d", free, total)
	}
	if _, _, err := Free("/does/not/exist/" + t.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Free of a missing path = %v, want ErrNotExist", err)
	}
}
