package failover

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"concord/p2p"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The liveness probe speaks [p2p.ProtoProbe]: on a stream the prober
// writes frames ([p2p.WriteFrame]) of exactly [NonceSize] bytes and the
// responder echoes each one back unchanged; the stream stays open for the
// next probe.

// NonceSize is the payload size, in bytes, of every probe frame.
const NonceSize = 8

// maxProbeStreams bounds the probe streams one peer may have open at a
// responder at once.
const maxProbeStreams = 4

// DefaultTimeout is the default bound on one probe, used when
// [ProberConfig.Timeout] or [Config.Timeout] is zero.
const DefaultTimeout = time.Second

// ProberConfig configures [NewProber]. Zero values mean "use the default".
type ProberConfig struct {
	// Host sends the probes. Required.
	Host host.Host
	// Timeout bounds one probe, stream opening (and dialing) included.
	// Default: [DefaultTimeout].
	Timeout time.Duration
	// Logger receives the prober's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Validate reports, as an error wrapping [ErrInvalidConfig], the first
// problem with c. Zero fields other than Host are valid.
func (c ProberConfig) Validate() error {
	if c.Host == nil {
		return fmt.Errorf("%w: Host is required", ErrInvalidConfig)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: negative Timeout %v", ErrInvalidConfig, c.Timeout)
	}
	return nil
}

func (c ProberConfig) withDefaults() ProberConfig {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Prober sends liveness probes ([p2p.ProtoProbe]) to peers. It keeps one stream
// per peer open between probes, so a probe normally costs a single round
// trip; a stream that fails is reset and a new one opened. Probes to the
// same peer are serialised; probes to different peers run in parallel. Its
// methods are safe for concurrent use. The Prober starts no goroutines.
type Prober struct {
	h       host.Host
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	closed bool
	conns  map[peer.ID]*probeConn
}

// probeConn is the cached stream to one peer.
type probeConn struct {
	sem chan struct{} // capacity 1: held for the duration of a probe

	mu     sync.Mutex // guards the fields below
	gone   bool       // forgotten or prober closed
	stream network.Stream
	reader *bufio.Reader
}

// NewProber returns a Prober sending probes from cfg.Host.
func NewProber(cfg ProberConfig) (*Prober, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Prober{
		h:       cfg.Host,
		timeout: cfg.Timeout,
		log:     cfg.Logger.With("component", "failover"),
		conns:   make(map[peer.ID]*probeConn),
	}, nil
}

// Probe checks that id answers a probe within the prober's timeout (or
// before ctx ends, if sooner) and returns the round-trip time. It reuses
// the peer's open probe stream if there is one; if that stream turns out to
// be dead (reset by the peer, say, after its responder restarted) and time
// remains, it retries once on a fresh stream, so a stale stream alone never
// fails a probe. Opening a stream dials the peer if it is not connected.
func (p *Prober) Probe(ctx context.Context, id peer.ID) (time.Duration, error) {
	if id == p.h.ID() {
		return 0, fmt.Errorf("failover: probing %s: cannot probe self", id)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	c, err := p.conn(id)
	if err != nil {
		return 0, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("failover: probing %s: %w", id, ctx.Err())
	}
	defer func() { <-c.sem }()

	rtt, reused, err := p.probeOnce(ctx, c, id)
	if err != nil && reused && ctx.Err() == nil && !isTimeout(err) {
		p.log.Debug("probe stream was stale, retrying on a new one", "peer", id, "err", err)
		rtt, _, err = p.probeOnce(ctx, c, id)
	}
	if err != nil {
		return 0, fmt.Errorf("failover: probing %s: %w", id, err)
	}
	return rtt, nil
}

// probeOnce runs one nonce exchange on c's cached stream, opening one if
// needed. reused reports whether an already open stream was used. On any
// error the stream is reset and dropped from the cache.
func (p *Prober) probeOnce(ctx context.Context, c *probeConn, id peer.ID) (rtt time.Duration, reused bool, err error) {
	s, r, err := c.get()
	if err != nil {
		return 0, false, err
	}
	reused = s != nil
	if s == nil {
		if s, err = p.h.NewStream(ctx, id, p2p.ProtoProbe); err != nil {
			return 0, false, err
		}
		r = bufio.NewReaderSize(s, 16)
		if err := c.set(s, r); err != nil {
			_ = s.Reset()
			return 0, false, err
		}
	}

	deadline, _ := ctx.Deadline() // always set: Probe adds the timeout
	_ = s.SetDeadline(deadline)
	// Wake the exchange at once if ctx is cancelled before the deadline.
	stop := context.AfterFunc(ctx, func() { _ = s.SetDeadline(time.Now()) })

	var nonce [NonceSize]byte
	binary.BigEndian.PutUint64(nonce[:], rand.Uint64())
	start := time.Now()
	err = p2p.WriteFrame(s, nonce[:])
	var echo []byte
	if err == nil {
		echo, err = p2p.ReadFrame(r, NonceSize)
	}
	rtt = time.Since(start)
	if err == nil && !bytes.Equal(echo, nonce[:]) {
		err = ErrBadEcho
	}
	if !stop() {
		// The deadline was forced into the past: the stream is unusable
		// for the next probe even if this one completed.
		if err == nil {
			c.drop(s)
		}
	} else if err == nil {
		_ = s.SetDeadline(time.Time{})
	}
	if err != nil {
		c.drop(s)
		return 0, reused, err
	}
	return rtt, reused, nil
}

// Forget resets and drops the cached stream to id, e.g. when id left the
// team. A probe to id in progress fails; a later probe opens a new stream.
func (p *Prober) Forget(id peer.ID) {
	p.mu.Lock()
	c := p.conns[id]
	delete(p.conns, id)
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// Close resets every cached stream. Later probes fail with [ErrClosed].
// Calling Close again does nothing.
func (p *Prober) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.closed = true
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// conn returns the cache entry for id, creating it.
func (p *Prober) conn(id peer.ID) (*probeConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("failover: probing %s: %w", id, ErrClosed)
	}
	c, ok := p.conns[id]
	if !ok {
		c = &probeConn{sem: make(chan struct{}, 1)}
		p.conns[id] = c
	}
	return c, nil
}

// get returns the cached stream (nil if none), or ErrClosed once c is gone.
func (c *probeConn) get() (network.Stream, *bufio.Reader, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil, nil, ErrClosed
	}
	return c.stream, c.reader, nil
}

// set caches a freshly opened stream, unless c is gone.
func (c *probeConn) set(s network.Stream, r *bufio.Reader) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return ErrClosed
	}
	c.stream, c.reader = s, r
	return nil
}

// drop resets s and removes it from the cache if it is still cached.
func (c *probeConn) drop(s network.Stream) {
	c.mu.Lock()
	if c.stream == s {
		c.stream, c.reader = nil, nil
	}
	c.mu.Unlock()
	_ = s.Reset()
}

// close marks c gone and resets its stream.
func (c *probeConn) close() {
	c.mu.Lock()
	s := c.stream
	c.gone = true
	c.stream, c.reader = nil, nil
	c.mu.Unlock()
	if s != nil {
		_ = s.Reset()
	}
}

// isTimeout reports whether err is a deadline expiry, after which retrying
// within the same probe is pointless.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
