package failover

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"concord/p2p"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ResponderConfig configures [NewResponder]. Zero values mean "use the
// default".
type ResponderConfig struct {
	// Admit reports whether probes from a peer are answered; a refused
	// peer's stream is reset, so its prober sees a failure. It is called
	// when a stream opens and again for every probe, so a peer removed from
	// the team stops getting answers on a stream it already has. It must be
	// fast and safe for concurrent use. Required: a nil Admit is refused
	// (it would answer every peer that can open a stream).
	Admit func(peer.ID) bool
	// Logger receives the responder's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Validate reports, as an error wrapping [ErrInvalidConfig], the first
// problem with c: Admit is required.
func (c ResponderConfig) Validate() error {
	if c.Admit == nil {
		return fmt.Errorf("%w: Admit is required (a nil one would answer every peer)", ErrInvalidConfig)
	}
	return nil
}

func (c ResponderConfig) withDefaults() ResponderConfig {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Responder answers liveness probes ([p2p.ProtoProbe]) on one host at a time.
// Its methods are safe for concurrent use.
type Responder struct {
	admit func(peer.ID) bool
	log   *slog.Logger

	mu   sync.Mutex
	sess *serveSession // nil when not serving
}

// serveSession is one Serve..Unserve period on one host. Its stream
// handlers are counted in wg so Unserve can wait for them.
type serveSession struct {
	h  host.Host
	wg sync.WaitGroup

	mu      sync.Mutex
	ended   bool
	streams map[network.Stream]struct{}
}

// NewResponder returns a Responder that is not yet serving: call
// [Responder.Serve].
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Responder{admit: cfg.Admit, log: cfg.Logger.With("component", "failover")}, nil
}

// Serve registers the probe handler on h, so that admitted peers' probes
// are echoed. Serving the host already served does nothing; serving
// another host first stops serving the previous one (see
// [Responder.Unserve]).
func (r *Responder) Serve(h host.Host) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess != nil {
		if r.sess.h == h {
			return
		}
		r.unserveLocked()
	}
	sess := &serveSession{h: h, streams: make(map[network.Stream]struct{})}
	r.sess = sess
	// A prober keeps one stream per peer (a new one after a failure, while
	// the old one may linger): more are a flood, each parked here forever.
	h.SetStreamHandler(p2p.ProtoProbe, p2p.Bounded(maxProbeStreams, func(s network.Stream) { r.handle(sess, s) }))
}

// Unserve removes the probe handler, resets every probe stream it is
// answering and waits for their handlers to return. Probers then see
// failures until [Responder.Serve] is called again. Calling Unserve when not
// serving does nothing.
func (r *Responder) Unserve() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unserveLocked()
}

func (r *Responder) unserveLocked() {
	sess := r.sess
	if sess == nil {
		return
	}
	r.sess = nil
	sess.h.RemoveStreamHandler(p2p.ProtoProbe)
	sess.mu.Lock()
	sess.ended = true
	streams := sess.streams
	sess.streams = nil
	sess.mu.Unlock()
	for s := range streams {
		_ = s.Reset()
	}
	sess.wg.Wait()
}

// handle echoes probe frames on s until the stream ends, the peer is no
// longer admitted or sess ends.
func (r *Responder) handle(sess *serveSession, s network.Stream) {
	from := s.Conn().RemotePeer()
	if !r.admit(from) {
		r.log.Debug("refusing probe stream", "peer", from)
		_ = s.Reset()
		return
	}
	sess.mu.Lock()
	if sess.ended {
		sess.mu.Unlock()
		_ = s.Reset()
		return
	}
	sess.streams[s] = struct{}{}
	sess.wg.Add(1)
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		delete(sess.streams, s)
		sess.mu.Unlock()
		sess.wg.Done()
	}()

	br := bufio.NewReaderSize(s, 16)
	for {
		nonce, err := p2p.ReadFrame(br, NonceSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				_ = s.Close()
			} else {
				_ = s.Reset()
			}
			return
		}
		if len(nonce) != NonceSize {
			r.log.Debug("malformed probe frame", "peer", from, "len", len(nonce))
			_ = s.Reset()
			return
		}
		if !r.admit(from) {
			r.log.Debug("refusing probe", "peer", from)
			_ = s.Reset()
			return
		}
		if err := p2p.WriteFrame(s, nonce); err != nil {
			_ = s.Reset()
			return
		}
	}
}
