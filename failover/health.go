package failover

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Monitor defaults, used when the corresponding [Config] field is zero.
const (
	DefaultInterval         = time.Second
	DefaultFailAfter        = 1
	DefaultSubscriberBuffer = 16
)

// Config configures [New]. Zero values mean "use the default".
type Config struct {
	// Host sends the probes. Required.
	Host host.Host
	// Peers returns the team to watch. It is called at the start of every
	// round, on the monitor's loop, so it must be fast; this host's own ID
	// and duplicates are ignored. Required.
	Peers func() []peer.ID
	// Interval is the time between the starts of two probe rounds.
	// Default: [DefaultInterval].
	Interval time.Duration
	// Timeout bounds one probe. Default: [DefaultTimeout].
	Timeout time.Duration
	// FailAfter is how many consecutive probes must fail before a healthy
	// peer is reported unhealthy. Default: [DefaultFailAfter], so a dead
	// peer is noticed within about Interval (plus Timeout if it hangs
	// rather than refuses).
	FailAfter int
	// SubscriberBuffer is the channel capacity of each subscription (see
	// [Monitor.Subscribe]). Default: [DefaultSubscriberBuffer].
	SubscriberBuffer int
	// Clock stamps [PeerHealth.LastSeen]. Default: time.Now.
	Clock func() time.Time
	// Logger receives the monitor's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Validate reports, as an error wrapping [ErrInvalidConfig], the first
// problem with c. Zero fields other than Host and Peers are valid.
func (c Config) Validate() error {
	switch {
	case c.Host == nil:
		return fmt.Errorf("%w: Host is required", ErrInvalidConfig)
	case c.Peers == nil:
		return fmt.Errorf("%w: Peers is required", ErrInvalidConfig)
	}
	return c.validateTuning()
}

// validateTuning checks the fields that have defaults.
func (c Config) validateTuning() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("%w: negative Interval %v", ErrInvalidConfig, c.Interval)
	case c.Timeout < 0:
		return fmt.Errorf("%w: negative Timeout %v", ErrInvalidConfig, c.Timeout)
	case c.FailAfter < 0:
		return fmt.Errorf("%w: negative FailAfter %d", ErrInvalidConfig, c.FailAfter)
	case c.SubscriberBuffer < 0:
		return fmt.Errorf("%w: negative SubscriberBuffer %d", ErrInvalidConfig, c.SubscriberBuffer)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.FailAfter == 0 {
		c.FailAfter = DefaultFailAfter
	}
	if c.SubscriberBuffer == 0 {
		c.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// PeerHealth is the monitor's record of one team peer.
type PeerHealth struct {
	// ID is the peer.
	ID peer.ID
	// Healthy is true once a probe has succeeded, until FailAfter
	// consecutive probes fail. A peer never reached is not healthy.
	Healthy bool
	// LastSeen is when the last successful probe completed (zero if none
	// has since the peer joined the watched set).
	LastSeen time.Time
	// RTT is the round-trip time of the last successful probe.
	RTT time.Duration
	// Failures counts consecutive failed probes (0 after a success).
	Failures int
}

// prober is what the Monitor needs from a [Prober]; tests substitute it.
type prober interface {
	Probe(ctx context.Context, id peer.ID) (time.Duration, error)
	Forget(id peer.ID)
	Close() error
}

// Monitor probes every team peer once per interval and tracks which are
// healthy. Its methods are safe for concurrent use.
type Monitor struct {
	cfg    Config
	self   peer.ID
	probe  prober
	log    *slog.Logger
	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the round loop and every probe goroutine

	mu       sync.Mutex
	started  bool
	closed   bool
	peers    map[peer.ID]*peerState
	subs     map[*subscriber]struct{}
	watchers map[peer.ID]map[*downWatcher]struct{}
	dropped  uint64

	closeOnce sync.Once
}

// peerState is the mutable record behind a [PeerHealth]. A peer that
// leaves the watched set loses its peerState; a late probe result that
// still points at the old one is discarded.
type peerState struct {
	PeerHealth
	inflight bool
}

// New returns a Monitor for cfg. It probes nothing until [Monitor.Start].
func New(cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p, err := NewProber(ProberConfig{Host: cfg.Host, Timeout: cfg.Timeout, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return newMonitor(cfg, cfg.Host.ID(), p), nil
}

// newMonitor builds a Monitor around any prober. cfg must have its
// defaults applied.
func newMonitor(cfg Config, self peer.ID, p prober) *Monitor {
	ctx, cancel := context.WithCancel(context.Background())
	return &Monitor{
		cfg:      cfg,
		self:     self,
		probe:    p,
		log:      cfg.Logger.With("component", "failover"),
		runCtx:   ctx,
		cancel:   cancel,
		peers:    make(map[peer.ID]*peerState),
		subs:     make(map[*subscriber]struct{}),
		watchers: make(map[peer.ID]map[*downWatcher]struct{}),
	}
}

// Start begins probing: a first round at once, then one every interval.
// Calling it again, or after Close, does nothing.
func (m *Monitor) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.closed {
		return
	}
	m.started = true
	m.wg.Add(1)
	go m.run()
}

// Close stops probing, resets the probe streams, ends every subscription
// (closing its channel) and waits for every goroutine the monitor started.
// Calling it again does nothing and returns nil.
func (m *Monitor) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.cancel()
		err = m.probe.Close() // fails in-flight probes at once
		m.wg.Wait()

		m.mu.Lock()
		for s := range m.subs {
			s.closeLocked()
		}
		clear(m.subs)
		clear(m.watchers)
		m.mu.Unlock()
	})
	return err
}

// Health returns the record of every watched peer, sorted by ID.
func (m *Monitor) Health() []PeerHealth {
	m.mu.Lock()
	out := make([]PeerHealth, 0, len(m.peers))
	for _, st := range m.peers {
		out = append(out, st.PeerHealth)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b PeerHealth) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Healthy reports whether id is a watched peer currently healthy.
func (m *Monitor) Healthy(id peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.peers[id]
	return ok && st.Healthy
}

// isDown reports whether id is a watched peer whose last FailAfter probes
// all failed. Unlike !Healthy it is false for a peer not yet probed enough
// to tell, or not watched at all.
func (m *Monitor) isDown(id peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.isDownLocked(id)
}

func (m *Monitor) isDownLocked(id peer.ID) bool {
	st, ok := m.peers[id]
	return ok && st.Failures >= m.cfg.FailAfter
}

// run is the round loop.
func (m *Monitor) run() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	for {
		m.round()
		select {
		case <-m.runCtx.Done():
			return
		case <-tick.C:
		}
	}
}

// round refreshes the watched set from cfg.Peers and starts a probe for
// every peer that has none in flight. A peer whose previous probe is still
// running (it can take up to Timeout) is skipped this round rather than
// probed twice; the other peers keep their cadence.
func (m *Monitor) round() {
	want := make(map[peer.ID]bool)
	for _, id := range m.cfg.Peers() {
		if id != "" && id != m.self {
			want[id] = true
		}
	}

	var gone []peer.ID
	var launch []*peerState
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	for id, st := range m.peers {
		if !want[id] {
			delete(m.peers, id)
			gone = append(gone, id)
			if st.Healthy {
				m.publishLocked(Change{ID: id, Healthy: false})
			}
		}
	}
	for id := range want {
		st, ok := m.peers[id]
		if !ok {
			st = &peerState{PeerHealth: PeerHealth{ID: id}}
			m.peers[id] = st
		}
		if !st.inflight {
			st.inflight = true
			launch = append(launch, st)
		}
	}
	m.wg.Add(len(launch))
	m.mu.Unlock()

	for _, id := range gone {
		m.log.Debug("peer left the watched set", "peer", id)
		m.probe.Forget(id)
	}
	for _, st := range launch {
		go m.probeOne(st)
	}
}

// probeOne probes st's peer and records the result.
func (m *Monitor) probeOne(st *peerState) {
	defer m.wg.Done()
	rtt, err := m.probe.Probe(m.runCtx, st.ID)
	if m.runCtx.Err() != nil {
		return // closing: the failure says nothing about the peer
	}
	m.record(st, rtt, err)
}

// record applies one probe result to st, unless st's peer has left the
// watched set since the probe started.
func (m *Monitor) record(st *peerState, rtt time.Duration, err error) {
	now := m.cfg.Clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	st.inflight = false
	if m.closed || m.peers[st.ID] != st {
		return
	}
	if err == nil {
		st.Failures = 0
		st.LastSeen = now
		st.RTT = rtt
		if !st.Healthy {
			st.Healthy = true
			m.log.Info("peer reachable", "peer", st.ID, "rtt", rtt)
			m.publishLocked(Change{ID: st.ID, Healthy: true})
		}
		return
	}
	st.Failures++
	m.log.Debug("probe failed", "peer", st.ID, "failures", st.Failures, "err", err)
	if st.Failures != m.cfg.FailAfter {
		return
	}
	if st.Healthy {
		st.Healthy = false
		m.log.Warn("peer unreachable", "peer", st.ID, "failures", st.Failures, "err", err)
		m.publishLocked(Change{ID: st.ID, Healthy: false})
	}
	m.fireDownLocked(st.ID)
}
