package diskspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Level says how much room is left.
type Level string

// The levels, from roomy to full. Their strings are what `concord status
// --json` shows.
const (
	OK   Level = "ok"   // above the low threshold
	Low  Level = "low"  // below the low threshold: warn, keep working
	Full Level = "full" // below FullBytes: refuse new writes of our own
)

// DiskState is the last free-space reading.
type DiskState struct {
	Free  uint64 // bytes available to this process
	Total uint64 // size of the filesystem
	Level Level
}

// Defaults of Config.
const (
	DefaultInterval   = 5 * time.Second
	DefaultLowBytes   = 200 << 20
	DefaultLowPercent = 2.0
	DefaultFullBytes  = 16 << 20
)

// Config says what to watch and where the thresholds are.
type Config struct {
	// Path is a file or directory on the filesystem to watch (the data
	// dir).
	Path string
	// Interval is how often the free space is read; 0 means
	// DefaultInterval.
	Interval time.Duration
	// LowBytes and LowPercent (of the filesystem's size) set the low
	// threshold: the smaller of the two. 0 means the default; a negative
	// LowPercent leaves LowBytes alone.
	LowBytes   uint64
	LowPercent float64
	// FullBytes is the free space below which a write is likely to fail
	// (a bbolt file grows in steps, a Raft segment is preallocated);
	// 0 means DefaultFullBytes.
	FullBytes uint64
	// Free reads the free space; nil means the package's Free. Tests
	// inject a fake.
	Free func(path string) (free, total uint64, err error)
	// Ticks, when set, replaces the Interval ticker: every value received
	// is one reading. Tests drive the watcher with it.
	Ticks <-chan time.Time
	// Logger receives a line on every change of level; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports whether the config can be used by New.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("diskspace: config: empty Path")
	}
	if c.Interval < 0 {
		return fmt.Errorf("diskspace: config: negative Interval %s", c.Interval)
	}
	if c.LowPercent > 100 {
		return fmt.Errorf("diskspace: config: LowPercent %v is above 100", c.LowPercent)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.LowBytes == 0 {
		c.LowBytes = DefaultLowBytes
	}
	if c.LowPercent == 0 {
		c.LowPercent = DefaultLowPercent
	}
	if c.FullBytes == 0 {
		c.FullBytes = DefaultFullBytes
	}
	if c.Free == nil {
		c.Free = Free
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// LowThreshold is the free space below which a filesystem of total bytes
// is low: the smaller of LowBytes and LowPercent of total.
func (c Config) LowThreshold(total uint64) uint64 {
	c = c.withDefaults()
	low := c.LowBytes
	if c.LowPercent > 0 && total > 0 {
		low = min(low, uint64(float64(total)*c.LowPercent/100))
	}
	return low
}

// levelOf classifies free bytes of total.
func (c Config) levelOf(free, total uint64) Level {
	switch {
	case free < c.FullBytes:
		return Full
	case free < c.LowThreshold(total):
		return Low
	}
	return OK
}

// Watcher reads the free space every Interval and keeps the last reading.
// Its methods are safe for concurrent use.
type Watcher struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	state   DiskState
	changed chan struct{} // closed (and replaced) when the level changes
	failing bool          // the last reading failed (logged once)

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// New makes a watcher; Start starts it. Until the first reading its state
// is OK with nothing known (Free and Total 0).
func New(cfg Config) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Watcher{cfg: cfg, log: cfg.Logger.With("component", "diskspace"),
		state: DiskState{Level: OK}, changed: make(chan struct{})}, nil
}

// Start takes a first reading, returning its error (the watcher keeps
// trying), and starts the goroutine that reads every Interval until Close.
func (w *Watcher) Start(ctx context.Context) error {
	var err error
	w.startOnce.Do(func() {
		_, err = w.Check(ctx)
		runCtx, cancel := context.WithCancel(context.Background())
		w.cancel, w.done = cancel, make(chan struct{})
		go w.run(runCtx)
	})
	return err
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	ticks := w.cfg.Ticks
	if ticks == nil {
		t := time.NewTicker(w.cfg.Interval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			_, _ = w.Check(ctx) // an error is logged by Check, once
		}
	}
}

// Check reads the free space now, updates the state and returns it. A
// failed reading keeps the previous state. Callers about to refuse a write
// on a stale "full" use it to see space the user has just freed.
func (w *Watcher) Check(ctx context.Context) (DiskState, error) {
	if err := ctx.Err(); err != nil {
		return w.State(), err
	}
	free, total, err := w.cfg.Free(w.cfg.Path)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !w.failing {
			w.log.Warn("cannot read the free disk space", "path", w.cfg.Path, "err", err)
		}
		w.failing = true
		return w.state, err
	}
	w.failing = false
	next := DiskState{Free: free, Total: total, Level: w.cfg.levelOf(free, total)}
	if next.Level != w.state.Level {
		w.logChange(next)
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.state = next
	return next, nil
}

func (w *Watcher) logChange(s DiskState) {
	args := []any{"path", w.cfg.Path, "free_bytes", s.Free, "total_bytes", s.Total, "level", string(s.Level)}
	if s.Level == OK {
		w.log.Info("disk space is back", args...)
		return
	}
	w.log.Warn("disk space is short", args...)
}

// State returns the last reading.
func (w *Watcher) State() DiskState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// Changed returns a channel that is closed at the next change of level.
// It never blocks the watcher, and any number of goroutines may wait on it;
// call State (and Changed again) once it is closed.
func (w *Watcher) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// Close stops the watcher and waits for its goroutine. It is idempotent.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		w.startOnce.Do(func() {}) // a Start after Close starts nothing
		if w.cancel != nil {
			w.cancel()
			<-w.done
		}
	})
	return nil
}
