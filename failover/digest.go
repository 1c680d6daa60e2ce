package failover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"concord/p2p"
	"concord/storage"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The digest protocol ([p2p.ProtoDigest]): the asker writes one frame of
// one byte, the chain version it reads (storage.DigestVersion); the
// answerer, a member, writes one frame with its chain
// (storage.EncodeDigestChain) and closes. Both frames are bounded.
const (
	maxDigestRequest = 16
	// maxDigestReply fits a full ring: 64 pairs of at most 10+32 bytes
	// and a header of at most 31.
	maxDigestReply = 4 << 10
	// maxDigestStreams bounds one peer's digest streams at an answerer; an
	// honest checker has one open at a time.
	maxDigestStreams = 2
)

// Digest checking defaults.
const (
	DefaultDigestInterval   = 30 * time.Second
	DefaultDigestFirstDelay = 5 * time.Second
)

// ErrBadDigest is a digest reply that does not decode.
var ErrBadDigest = errors.New("failover: malformed digest reply")

// DigestConfig configures [NewDigestChecker].
type DigestConfig struct {
	// Host asks peers and answers them. Required.
	Host host.Host
	// Local returns this member's chain. Required.
	Local func() (storage.DigestChain, error)
	// Peers returns the peers to compare with in a round (the healthy
	// members). Required.
	Peers func() []peer.ID
	// Admit says whether a peer's request is answered (members only).
	// Required.
	Admit func(peer.ID) bool
	// Interval is the time between rounds, give or take a tenth (jitter,
	// so members do not all ask at once). Default: 30 s.
	Interval time.Duration
	// FirstDelay is the time to the first round, also jittered. Default: 5 s.
	FirstDelay time.Duration
	// Timeout bounds one exchange. Default: [DefaultTimeout] × 5.
	Timeout time.Duration
	// Logger receives the checker's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Validate reports, as an error wrapping [ErrInvalidConfig], the first
// problem with c.
func (c DigestConfig) Validate() error {
	switch {
	case c.Host == nil || c.Local == nil || c.Peers == nil || c.Admit == nil:
		return fmt.Errorf("%w: Host, Local, Peers and Admit are required", ErrInvalidConfig)
	case c.Interval < 0 || c.FirstDelay < 0 || c.Timeout < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	return nil
}

func (c DigestConfig) withDefaults() DigestConfig {
	if c.Interval == 0 {
		c.Interval = DefaultDigestInterval
	}
	if c.FirstDelay == 0 {
		c.FirstDelay = DefaultDigestFirstDelay
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// DigestChecker compares this member's digest chain with its peers'
// periodically and answers theirs. Its methods are safe for concurrent use.
type DigestChecker struct {
	cfg    DigestConfig
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	started  bool
	closed   bool
	wg       sync.WaitGroup // the loop and the handlers
	last     Consistency
	since    map[peer.ID]uint64 // earliest index each diverged peer was seen to differ at
	reported map[reportKey]bool // divergences already logged
}

type reportKey struct {
	peer  peer.ID // "" for this member against the team
	index uint64
}

// NewDigestChecker returns a checker that is not yet running: call Start.
func NewDigestChecker(cfg DigestConfig) (*DigestChecker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &DigestChecker{cfg: cfg, log: cfg.Logger.With("component", "digest"), ctx: ctx, cancel: cancel,
		last: Consistency{State: ConsistencyUnknown}, since: make(map[peer.ID]uint64),
		reported: make(map[reportKey]bool)}, nil
}

// Start serves the protocol and starts the rounds. Calling it again, or
// after Close, does nothing.
func (d *DigestChecker) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.closed {
		return
	}
	d.started = true
	d.cfg.Host.SetStreamHandler(p2p.ProtoDigest, p2p.Bounded(maxDigestStreams, d.serve))
	d.wg.Add(1)
	go d.loop()
}

// Close stops the rounds and the handler and waits for them. Calling it
// again does nothing.
func (d *DigestChecker) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	started := d.started
	d.mu.Unlock()
	if started {
		d.cfg.Host.RemoveStreamHandler(p2p.ProtoDigest)
	}
	d.cancel()
	d.wg.Wait()
	return nil
}

// Status returns what the last round found (ConsistencyUnknown before the
// first).
func (d *DigestChecker) Status() Consistency {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.last
	c.Peers = append([]PeerConsistency(nil), c.Peers...)
	return c
}

func (d *DigestChecker) jitter(t time.Duration) time.Duration {
	return t - t/10 + rand.N(t/5+1)
}

func (d *DigestChecker) loop() {
	defer d.wg.Done()
	timer := time.NewTimer(d.jitter(d.cfg.FirstDelay))
	defer timer.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-timer.C:
		}
		d.Round(d.ctx)
		timer.Reset(d.jitter(d.cfg.Interval))
	}
}

// Round compares with every peer Peers gives, at once, and records the
// verdict.
func (d *DigestChecker) Round(ctx context.Context) Consistency {
	peers := d.cfg.Peers()
	results := make([]PeerConsistency, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.compare(ctx, p)
		}()
	}
	wg.Wait()
	d.mu.Lock()
	// Once apart, chains stay apart: as the kept rings move on, the
	// earliest index seen stays the best answer (and logs once).
	for i, r := range results {
		switch r.State {
		case ConsistencyDiverged:
			if at, ok := d.since[r.ID]; ok && at < r.DivergedAt {
				results[i].DivergedAt = at
			}
			d.since[r.ID] = results[i].DivergedAt
		case ConsistencyOK: // repaired (restored from a snapshot)
			delete(d.since, r.ID)
		}
	}
	c := verdict(results)
	d.last = c
	d.mu.Unlock()
	d.report(c)
	return c
}

// compare asks p for its chain and compares it with ours.
func (d *DigestChecker) compare(ctx context.Context, p peer.ID) PeerConsistency {
	out := PeerConsistency{ID: p, State: ConsistencyUnknown}
	remote, err := d.ask(ctx, p)
	if err != nil {
		d.log.Debug("digest not compared", "peer", p, "err", err)
		out.Reason = "not reachable"
		return out
	}
	// Read ours after theirs, so that a peer ahead of us is compared at
	// our newest index rather than an older one.
	local, err := d.cfg.Local()
	if err != nil {
		d.log.Warn("reading this member's digest", "err", err)
		out.Reason = "local digest unreadable"
		return out
	}
	at, divergedAt, ok, reason := compareChains(local, remote)
	switch {
	case !ok:
		out.Reason = reason
	case divergedAt == 0:
		out.State, out.CheckedIndex = ConsistencyOK, at
	default:
		out.State, out.CheckedIndex, out.DivergedAt = ConsistencyDiverged, at, divergedAt
	}
	return out
}

// ask fetches p's chain.
func (d *DigestChecker) ask(ctx context.Context, p peer.ID) (storage.DigestChain, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	s, err := d.cfg.Host.NewStream(ctx, p, p2p.ProtoDigest)
	if err != nil {
		return storage.DigestChain{}, err
	}
	defer func() { _ = s.Close() }()
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline)
	// mocknet ignores deadlines: reset the stream when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := p2p.WriteFrame(s, []byte{storage.DigestVersion}); err != nil {
		_ = s.Reset()
		return storage.DigestChain{}, err
	}
	_ = s.CloseWrite()
	b, err := p2p.ReadFrame(bufio.NewReaderSize(s, 64), maxDigestReply)
	if err != nil {
		_ = s.Reset()
		return storage.DigestChain{}, err
	}
	c, err := storage.DecodeDigestChain(b)
	if err != nil {
		return storage.DigestChain{}, fmt.Errorf("%w: %w", ErrBadDigest, err)
	}
	return c, nil
}

// serve answers one request from a member.
func (d *DigestChecker) serve(s network.Stream) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		_ = s.Reset()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	defer d.wg.Done()

	from := s.Conn().RemotePeer()
	if !d.cfg.Admit(from) {
		d.log.Debug("refusing digest request", "peer", from)
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(d.cfg.Timeout))
	req, err := p2p.ReadFrame(bufio.NewReaderSize(s, 16), maxDigestRequest)
	if err != nil || len(req) != 1 {
		_ = s.Reset()
		return
	}
	c, err := d.cfg.Local()
	if err != nil {
		d.log.Warn("reading this member's digest for a peer", "peer", from, "err", err)
		_ = s.Reset()
		return
	}
	if err := p2p.WriteFrame(s, storage.EncodeDigestChain(c)); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// report logs each divergence once: every peer that differs, and this
// member when it is the odd one out.
func (d *DigestChecker) report(c Consistency) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range c.Peers {
		if p.State != ConsistencyDiverged || d.reported[reportKey{p.ID, p.DivergedAt}] {
			continue
		}
		d.reported[reportKey{p.ID, p.DivergedAt}] = true
		d.log.Error(fmt.Sprintf("this member's history differs from %s's at index %d", p.ID, p.DivergedAt),
			"peer", p.ID, "index", p.DivergedAt, "checked", p.CheckedIndex)
	}
	if c.State == ConsistencyDiverged && !d.reported[reportKey{"", c.DivergedAt}] {
		d.reported[reportKey{"", c.DivergedAt}] = true
		d.log.Error(fmt.Sprintf("this member's history differs from the team's at index %d", c.DivergedAt),
			"index", c.DivergedAt)
	}
}
