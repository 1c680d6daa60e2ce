package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// discoveryRecheck is how often a running [Discovery] compares the
// addresses it advertises with the host's current interface addresses, and
// retries a failed start. libp2p itself caches interface addresses for a
// minute, so a member's new IP is advertised within about 70 s.
const discoveryRecheck = 10 * time.Second

// ServiceName returns the DNS-SD service name under which the members of
// team teamID announce themselves on the LAN, e.g. "_concord-1a2b3c4._udp".
// It is stable, differs between teams (28 bits of SHA-256 of the team ID,
// enough to keep unrelated teams on one LAN apart; admission never relies on
// it) and does not reveal the team ID. Its service part is 15 characters,
// the most RFC 6763 allows.
func ServiceName(teamID string) string {
	sum := sha256.Sum256([]byte("concord/mdns/v1\x00" + teamID))
	return "_concord-" + hex.EncodeToString(sum[:])[:7] + "._udp"
}

// validServiceName reports whether s is "_NAME._udp" or "_NAME._tcp" where
// NAME is an RFC 6335 service name: 1–15 lowercase letters, digits and
// hyphens, at least one letter, no hyphen at either end or next to another.
func validServiceName(s string) bool {
	name, ok := strings.CutPrefix(s, "_")
	if !ok {
		return false
	}
	name, ok = strings.CutSuffix(name, "._udp")
	if !ok {
		if name, ok = strings.CutSuffix(name, "._tcp"); !ok {
			return false
		}
	}
	if len(name) == 0 || len(name) > 15 || name[0] == '-' || name[len(name)-1] == '-' ||
		strings.Contains(name, "--") {
		return false
	}
	letter := false
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letter
}

// Discovery is LAN discovery started by [Host.StartDiscovery]. It stops
// with [Discovery.Close] or with the Host's Close, whichever comes first.
type Discovery struct {
	hs      *Host
	service string
	found   func(peer.AddrInfo)
	log     *slog.Logger

	ctx    context.Context // cancelled by Close and by the Host's Close
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	// peers carries what the mdns package reports. It is buffered and
	// never closed: the mdns package calls HandlePeerFound from
	// goroutines of its own, which may outlive the service's Close.
	peers chan peer.AddrInfo

	closeOnce sync.Once
}

// StartDiscovery announces this host on the LAN under the DNS-SD service
// name service (see [ServiceName]) with multicast DNS, and browses for
// other hosts announcing the same name.
//
// found is called with every peer found: never this host, only its TCP
// addresses on IP (loopback, unspecified and IPv6 link-local addresses are
// dropped, and peers left with none are not reported). The Host does not
// connect to anyone it finds, nor store their addresses: found decides,
// typically by adding the addresses of team members only ([Host.AddPeer])
// and ignoring everyone else. Calls to found are sequential, on a goroutine
// of the Discovery, and must return quickly; found must not call Close. A
// peer is reported once per announcement it makes: again when it restarts
// or changes address, or when this Discovery restarts its announcement
// because this host's addresses changed (checked every 10 s).
//
// A failure to start multicast (e.g. no interface up yet) is logged and
// retried every 10 s rather than returned. The error is [ErrClosed] after
// the Host's Close, or wraps [ErrInvalidConfig] when service is not a valid
// DNS-SD service name (the empty name, which would mean libp2p's public
// "_p2p._udp", is refused too).
func (hs *Host) StartDiscovery(service string, found func(peer.AddrInfo)) (*Discovery, error) {
	if !validServiceName(service) {
		return nil, fmt.Errorf("%w: mDNS service name %q is not of the form _name._udp", ErrInvalidConfig, service)
	}
	if found == nil {
		return nil, fmt.Errorf("%w: StartDiscovery needs a found callback", ErrInvalidConfig)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.closed {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(hs.runCtx)
	d := &Discovery{
		hs:      hs,
		service: service,
		found:   found,
		log:     hs.log.With("service", service),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		peers:   make(chan peer.AddrInfo, 64),
	}
	// wg.Add under hs.mu with closed false: Close has not reached
	// wg.Wait yet, and will wait for run.
	hs.wg.Add(1)
	go d.run()
	return d, nil
}

// Close stops announcing and browsing and waits for the Discovery's
// goroutine, including a found call in progress. It is idempotent and
// always returns nil.
func (d *Discovery) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		<-d.done
	})
	return nil
}

// HandlePeerFound implements mdns.Notifee. It hands ai to run, or drops it
// once the Discovery is closing.
func (d *Discovery) HandlePeerFound(ai peer.AddrInfo) {
	select {
	case d.peers <- ai:
	case <-d.ctx.Done():
	}
}

var _ mdns.Notifee = (*Discovery)(nil)

// run owns the mdns service: it starts it, restarts it when the host's
// addresses change (the announcement carries them), delivers found peers,
// and closes it when the Discovery or the Host closes.
func (d *Discovery) run() {
	defer d.hs.wg.Done()
	defer close(d.done)

	var svc mdns.Service
	var advertised string // addresses announced by svc, see advertKey
	stop := func() {
		if svc != nil {
			_ = svc.Close() // always nil
			svc = nil
		}
	}
	defer stop()
	start := func() {
		stop()
		key := d.advertKey()
		s := mdns.NewMdnsService(d.hs.h, d.service, d)
		if err := s.Start(); err != nil {
			_ = s.Close() // stops a half-started service
			d.log.Warn("starting mDNS discovery failed, retrying", "err", err, "retry_in", discoveryRecheck)
			return
		}
		svc, advertised = s, key
		d.log.Info("mDNS discovery started", "addrs", key)
	}

	start()
	tick := time.NewTicker(discoveryRecheck)
	defer tick.Stop()
	for {
		select {
		case <-d.ctx.Done():
			d.log.Info("mDNS discovery stopped")
			return
		case ai := <-d.peers:
			d.deliver(ai)
		case <-tick.C:
			if svc == nil {
				start()
			} else if key := d.advertKey(); key != advertised {
				d.log.Info("local addresses changed, restarting mDNS announcement", "old", advertised, "new", key)
				start()
			}
		}
	}
}

// advertKey returns the addresses the mdns package would announce now, as
// a comparable string (the swarm's interface listen addresses, sorted).
func (d *Discovery) advertKey() string {
	addrs, err := d.hs.h.Network().InterfaceListenAddresses()
	if err != nil {
		return ""
	}
	s := make([]string, 0, len(addrs))
	for _, a := range addrs {
		s = append(s, a.String())
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// deliver filters ai down to usable TCP addresses and calls found.
func (d *Discovery) deliver(ai peer.AddrInfo) {
	if ai.ID == d.hs.h.ID() || ai.ID.Validate() != nil {
		return
	}
	addrs := make([]ma.Multiaddr, 0, len(ai.Addrs))
	for _, a := range ai.Addrs {
		if lanTCPAddr(a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		d.log.Debug("mDNS peer without usable TCP address", "peer", ai.ID, "addrs", ai.Addrs)
		return
	}
	d.log.Debug("mDNS peer found", "peer", ai.ID, "addrs", addrs)
	d.found(peer.AddrInfo{ID: ai.ID, Addrs: addrs})
}

// lanTCPAddr reports whether a is exactly /ip4/A/tcp/P or /ip6/A/tcp/P with
// an address another machine could dial: not loopback, unspecified or IPv6
// link-local (which needs a zone the announcement does not carry).
func lanTCPAddr(a ma.Multiaddr) bool {
	if len(a) != 2 || a[1].Protocol().Code != ma.P_TCP {
		return false
	}
	if c := a[0].Protocol().Code; c != ma.P_IP4 && c != ma.P_IP6 {
		return false
	}
	return !manet.IsIPLoopback(a) && !manet.IsIPUnspecified(a) && !manet.IsIP6LinkLocal(a)
}
