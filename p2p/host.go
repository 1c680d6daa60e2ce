package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// UserAgent is the agent string the host announces through identify.
const UserAgent = "concord"

// Host is a Concord member's libp2p host plus the team bookkeeping built on
// it: protected, kept-connected team peers and their persisted addresses.
// Its methods are safe for concurrent use.
type Host struct {
	h       host.Host
	cm      *connmgr.BasicConnMgr
	gater   *gater
	log     *slog.Logger
	dataDir string

	// runCtx is cancelled by Close; every goroutine the Host starts derives
	// from it and is tracked by wg.
	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	notifiee *network.NotifyBundle
	idSub    event.Subscription
	dirty    chan struct{} // capacity 1: "peers.json may be stale"

	mu     sync.Mutex
	closed bool
	team   map[peer.ID]*teamPeer
	book   map[peer.ID][]ma.Multiaddr // addresses persisted in peers.json
	// identified holds what team peers announced in their last identify.
	identified map[peer.ID][]ma.Multiaddr

	saveMu    sync.Mutex // serialises peers.json writes
	lastSaved []byte

	cached []peer.ID // the team peers peers.json held at start (read-only)

	closeOnce sync.Once
	closeErr  error
}

// New starts a libp2p host for the member whose data lives in cfg.DataDir:
// persisted identity ([LoadIdentity]), TCP only, Noise, yamux, the
// configured listen addresses, no relay, no NAT port mapping or hole
// punching, a connection manager with cfg's watermarks and a resource
// manager without per-IP limits. Team peers cached in dataDir/peers.json are
// loaded into the peerstore and become the initial team (see
// [Host.SetTeam]), so a restarted member reconnects on its own.
//
// ctx bounds construction only; the Host runs until [Host.Close].
func New(ctx context.Context, cfg Config) (*Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	listen := make([]ma.Multiaddr, 0, len(cfg.Listen))
	for _, s := range cfg.Listen {
		m, err := parseListenAddr(s)
		if err != nil {
			return nil, err
		}
		listen = append(listen, m)
	}
	priv := cfg.Identity
	if priv == nil {
		var err error
		if priv, err = LoadIdentity(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh)
	if err != nil {
		return nil, fmt.Errorf("%w: connection manager: %w", ErrInvalidConfig, err)
	}
	local, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		_ = cm.Close()
		return nil, fmt.Errorf("%w: identity: %w", ErrInvalidConfig, err)
	}
	rm, err := newResourceManager(local)
	if err != nil {
		_ = cm.Close()
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	g := newGater(cfg.Closed, cfg.Allowed)
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.ConnectionGater(g),
		libp2p.ListenAddrs(listen...),
		// No port reuse: two members that dial each other at the same
		// instant (LAN discovery makes that common) would otherwise share
		// one TCP connection and both fail the Noise handshake. Port reuse
		// only helps NAT traversal, which a LAN team does not do.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.DisableMetrics(),
		libp2p.UserAgent(UserAgent),
	}
	if cfg.PSK != nil {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(cfg.PSK)))
	}
	lh, err := libp2p.New(opts...)
	if err != nil {
		// libp2p closes them on some error paths only; both Close
		// methods are idempotent.
		_ = cm.Close()
		_ = rm.Close()
		return nil, fmt.Errorf("p2p: starting libp2p host: %w", err)
	}
	sub, err := lh.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		_ = lh.Close()
		return nil, fmt.Errorf("p2p: subscribing to identify events: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	hs := &Host{
		h:          lh,
		cm:         cm,
		gater:      g,
		log:        cfg.Logger.With("component", "p2p"),
		dataDir:    cfg.DataDir,
		runCtx:     runCtx,
		cancel:     cancel,
		idSub:      sub,
		dirty:      make(chan struct{}, 1),
		team:       make(map[peer.ID]*teamPeer),
		book:       make(map[peer.ID][]ma.Multiaddr),
		identified: make(map[peer.ID][]ma.Multiaddr),
	}
	hs.notifiee = &network.NotifyBundle{
		ConnectedF:    hs.onConnected,
		DisconnectedF: hs.onDisconnected,
	}
	cached := hs.loadPeers()
	hs.cached = cached
	lh.Network().Notify(hs.notifiee)
	hs.wg.Add(1)
	go hs.persistLoop()

	hs.mu.Lock()
	for _, id := range cached {
		hs.startTeamPeerLocked(id)
	}
	hs.mu.Unlock()

	hs.log.Info("p2p host started", "peer", lh.ID(), "addrs", hs.Addrs(), "cached_team", len(cached))
	return hs, nil
}

// Host returns the underlying libp2p host, e.g. for go-libp2p-raft's
// transport or to register stream handlers. Do not close it: call
// [Host.Close].
func (hs *Host) Host() host.Host { return hs.h }

// ID returns this member's peer ID.
func (hs *Host) ID() peer.ID { return hs.h.ID() }

// Addrs returns the addresses other members can dial to reach this host, as
// multiaddr strings ending in /p2p/<id> (ready to paste into an invite).
// Unspecified listen addresses (0.0.0.0, ::) are expanded to the interface
// addresses by libp2p and never returned as such.
func (hs *Host) Addrs() []string {
	ai := peer.AddrInfo{ID: hs.h.ID()}
	for _, a := range hs.h.Addrs() {
		if !manet.IsIPUnspecified(a) {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	full, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		hs.log.Warn("encoding own addresses", "err", err)
		return nil
	}
	out := make([]string, 0, len(full))
	for _, a := range full {
		out = append(out, a.String())
	}
	return out
}

// Close stops the redial loops and the address persister, saves the team's
// addresses to peers.json one last time and closes the libp2p host. It waits
// for every goroutine the Host started. Calling Close again returns the
// first call's result.
func (hs *Host) Close() error {
	hs.closeOnce.Do(func() {
		hs.mu.Lock()
		hs.closed = true
		for _, tp := range hs.team {
			tp.cancel()
		}
		hs.mu.Unlock()
		hs.cancel()
		hs.wg.Wait()

		hs.h.Network().StopNotify(hs.notifiee)
		hs.savePeers()
		hs.closeErr = errors.Join(hs.idSub.Close(), hs.h.Close())
		if hs.closeErr != nil {
			hs.closeErr = fmt.Errorf("p2p: closing host: %w", hs.closeErr)
		}
		hs.log.Info("p2p host closed", "peer", hs.h.ID())
	})
	return hs.closeErr
}

// isClosed reports whether Close has started.
func (hs *Host) isClosed() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.closed
}
