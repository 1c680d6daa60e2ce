package timesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for NTPConfig.
const (
	DefaultSamples       = 4
	DefaultInterval      = 5 * time.Minute
	DefaultRetryInterval = 30 * time.Second
	DefaultMaxBackoff    = time.Hour
	// DefaultSampleGap spaces the samples sent to one server: public
	// servers (pool.ntp.org's ntpd "limited") answer RATE to clients that
	// send faster than one packet every 2 s.
	DefaultSampleGap = 2 * time.Second
)

// DefaultServers returns the NTP servers NTPClock asks, in order, when
// NTPConfig.Servers is empty.
func DefaultServers() []string {
	return []string{"pool.ntp.org", "time.cloudflare.com", "time.google.com"}
}

var (
	// ErrNoServer is wrapped by Sync's error when no server gave a usable
	// answer; the errors of the individual servers are wrapped too, so
	// errors.Is(err, ErrKissOfDeath) tells whether one of them said so.
	ErrNoServer = errors.New("timesync: no NTP server gave a usable answer")
	// ErrClosed is returned by Sync and Start after Close.
	ErrClosed = errors.New("timesync: clock closed")
	// ErrInvalidConfig is wrapped by NTPConfig.Validate's errors.
	ErrInvalidConfig = errors.New("timesync: invalid config")
)

// NTPConfig configures NewNTP. Zero fields take their defaults.
type NTPConfig struct {
	// Servers are asked in order; a server that fails is skipped for the
	// next. Each is "host" or "host:port" (default port 123).
	// Default: DefaultServers().
	Servers []string
	// Samples is how many exchanges to make with a server per Sync.
	// Default: DefaultSamples.
	Samples int
	// SampleGap is the pause between two samples to the same server.
	// Default: DefaultSampleGap.
	SampleGap time.Duration
	// Interval is the time between periodic resyncs, spread by ±10%.
	// Default: DefaultInterval.
	Interval time.Duration
	// RetryInterval is the wait after a Sync that failed without being
	// told to slow down; capped at Interval. Default: DefaultRetryInterval.
	RetryInterval time.Duration
	// MaxBackoff caps the interval when servers answer RATE (each RATE
	// doubles it). Must not be below Interval. Default: DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Timeout bounds one exchange. Default: DefaultTimeout.
	Timeout time.Duration
	// MaxRootDistance rejects samples whose ErrorBound exceeds it.
	// Default: DefaultMaxRootDistance.
	MaxRootDistance time.Duration
	// Logger receives the clock's logs. Default: slog.Default().
	Logger *slog.Logger
	// Base is the local clock the offset is measured against and added
	// to. Default: System{}; tests inject a Skewed clock.
	Base Clock
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c NTPConfig) withDefaults() NTPConfig {
	if len(c.Servers) == 0 {
		c.Servers = DefaultServers()
	} else {
		c.Servers = append([]string(nil), c.Servers...)
	}
	if c.Samples == 0 {
		c.Samples = DefaultSamples
	}
	if c.SampleGap == 0 {
		c.SampleGap = DefaultSampleGap
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.Interval)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRootDistance == 0 {
		c.MaxRootDistance = DefaultMaxRootDistance
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Base == nil {
		c.Base = System{}
	}
	return c
}

// Validate reports, as an error wrapping ErrInvalidConfig, the first
// problem with c. Zero fields are valid (they take their defaults).
func (c NTPConfig) Validate() error {
	for i, s := range c.Servers {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%w: Servers[%d] is empty", ErrInvalidConfig, i)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"SampleGap", c.SampleGap}, {"Interval", c.Interval}, {"RetryInterval", c.RetryInterval},
		{"MaxBackoff", c.MaxBackoff}, {"Timeout", c.Timeout}, {"MaxRootDistance", c.MaxRootDistance}} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s is negative (%v)", ErrInvalidConfig, f.name, f.v)
		}
	}
	if c.Samples < 0 {
		return fmt.Errorf("%w: Samples is negative (%d)", ErrInvalidConfig, c.Samples)
	}
	if d := c.withDefaults(); d.MaxBackoff < d.Interval {
		return fmt.Errorf("%w: MaxBackoff %v is below Interval %v", ErrInvalidConfig, d.MaxBackoff, d.Interval)
	}
	return nil
}

// Status is a snapshot of an NTPClock's synchronisation.
type Status struct {
	// Source is "ntp" once a Sync has succeeded, else "system".
	Source string
	// Server is the server the current offset came from.
	Server string
	// Offset is the correction added to the Base clock.
	Offset time.Duration
	// RTT is the lowest round trip among the samples used.
	RTT time.Duration
	// ErrorBound is how far off the offset could be when it was measured:
	// the largest RTT/2 + root distance among the samples used.
	ErrorBound time.Duration
	// LastSync is the corrected time of the last successful Sync (zero if
	// none).
	LastSync time.Time
	// Stale is set when the latest Sync failed, so Offset is the one an
	// earlier Sync measured (or zero if none ever succeeded).
	Stale bool
	// Err is the latest Sync's error, "" if it succeeded.
	Err string
}

// NTPClock is a Clock corrected by NTP: the Base clock plus the offset the
// last successful Sync measured. Until then it reads like Base and reports
// Source "system". It is safe for concurrent use.
type NTPClock struct {
	cfg NTPConfig
	log *slog.Logger

	state atomic.Pointer[Status]
	sem   chan struct{}     // one Sync at a time
	deny  map[string]string // servers that said DENY/RSTR; guarded by sem

	mu      sync.Mutex
	closed  bool
	running bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

var _ Clock = (*NTPClock)(nil)

// NewNTP returns an unsynchronised NTPClock; call Sync or Start to correct
// it.
func NewNTP(cfg NTPConfig) (*NTPClock, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &NTPClock{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "timesync"),
		sem:  make(chan struct{}, 1),
		deny: map[string]string{},
	}
	c.state.Store(&Status{Source: "system"})
	return c, nil
}

// Now returns Base's time plus the current offset.
func (c *NTPClock) Now() time.Time { return c.cfg.Base.Now().Add(c.state.Load().Offset) }

// Source reports "ntp" once a Sync has succeeded, else "system".
func (c *NTPClock) Source() string { return c.state.Load().Source }

// Offset is the correction currently added to Base (zero before the first
// successful Sync).
func (c *NTPClock) Offset() time.Duration { return c.state.Load().Offset }

// Status returns a snapshot of the synchronisation state.
func (c *NTPClock) Status() Status { return *c.state.Load() }

// Sync measures the offset now: it asks the servers in order, Samples
// exchanges each, and adopts the first server that answers usably (the
// median offset of its better half of samples by round trip). A server that
// fails, or sends a kiss-of-death, is left for the next; one that answered
// DENY or RSTR is not asked again by this clock. If no server answers
// usably, Sync keeps the previous offset, marks Status stale and returns an
// error wrapping ErrNoServer (and each server's error).
func (c *NTPClock) Sync(ctx context.Context) error {
	_, err := c.sync(ctx)
	return err
}

// sync is Sync that also reports whether a server answered RATE.
func (c *NTPClock) sync(ctx context.Context) (rate bool, err error) {
	if c.isClosed() {
		return false, ErrClosed
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("timesync: sync: %w", ctx.Err())
	}
	defer func() { <-c.sem }()

	var errs []error
	for _, srv := range c.cfg.Servers {
		if code, ok := c.deny[srv]; ok {
			errs = append(errs, fmt.Errorf("timesync: %s skipped: it answered %s before", srv, code))
			continue
		}
		samples, err := c.collect(ctx, srv)
		if ctx.Err() != nil {
			return rate, fmt.Errorf("timesync: sync: %w", ctx.Err())
		}
		if err != nil {
			var kiss *KissError
			if errors.As(err, &kiss) {
				switch kiss.Code {
				case "RATE":
					rate = true
				case "DENY", "RSTR":
					c.deny[srv] = kiss.Code
				}
			}
			c.log.Debug("ntp server failed", "server", srv, "err", err)
			errs = append(errs, err)
			continue
		}
		c.adopt(srv, combine(samples))
		return rate, nil
	}

	err = fmt.Errorf("%w: %w", ErrNoServer, errors.Join(errs...))
	st := *c.state.Load()
	st.Stale, st.Err = true, err.Error()
	c.state.Store(&st)
	c.log.Warn("ntp sync failed; keeping previous offset", "offset", st.Offset, "err", err)
	return rate, err
}

// collect takes up to Samples samples from srv, SampleGap apart. It fails if
// the first one fails or the server sends a kiss-of-death; a later lost or
// bad reply just ends the series.
func (c *NTPClock) collect(ctx context.Context, srv string) ([]Sample, error) {
	opts := QueryOptions{Timeout: c.cfg.Timeout, Clock: c.cfg.Base, MaxRootDistance: c.cfg.MaxRootDistance}
	var out []Sample
	for i := range c.cfg.Samples {
		if i > 0 {
			t := time.NewTimer(c.cfg.SampleGap)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		s, err := Query(ctx, srv, opts)
		if err != nil {
			if len(out) == 0 || errors.Is(err, ErrKissOfDeath) {
				return nil, err
			}
			c.log.Debug("ntp sample lost", "server", srv, "err", err)
			break
		}
		out = append(out, s)
	}
	return out, nil
}

// adopt makes e the current correction.
func (c *NTPClock) adopt(srv string, e estimate) {
	prev := c.state.Load()
	st := &Status{
		Source:     "ntp",
		Server:     srv,
		Offset:     e.offset,
		RTT:        e.rtt,
		ErrorBound: e.bound,
		LastSync:   c.cfg.Base.Now().Add(e.offset),
	}
	c.state.Store(st)
	lvl := slog.LevelDebug
	if prev.Source != "ntp" || prev.Server != srv {
		lvl = slog.LevelInfo
	}
	c.log.Log(context.Background(), lvl, "ntp synced", "server", srv, "offset", e.offset,
		"rtt", e.rtt, "error_bound", e.bound, "samples", e.kept)
}

// Start runs Sync now and then periodically (Interval ±10%, backing off on
// RATE) in a goroutine until ctx is done or Close is called. Calling Start
// while the loop runs does nothing.
func (c *NTPClock) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.running {
		return nil
	}
	loopCtx, cancel := context.WithCancel(ctx)
	c.running, c.cancel = true, cancel
	c.wg.Add(1)
	go c.run(loopCtx)
	return nil
}

// run is the resync loop.
func (c *NTPClock) run(ctx context.Context) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()
	wait := c.cfg.Interval
	for {
		rate, err := c.sync(ctx)
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return
		}
		out := syncOK
		switch {
		case rate:
			out = syncRate
		case err != nil:
			out = syncFailed
		}
		wait = nextInterval(c.cfg, wait, out)
		d := jitter(wait, jitterFraction, rand.Float64())
		if out == syncRate {
			c.log.Warn("ntp server asked to slow down; backing off", "next", d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (c *NTPClock) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close stops the resync loop and waits for it to exit. The clock keeps its
// last offset. Close is idempotent and always returns nil.
func (c *NTPClock) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}
