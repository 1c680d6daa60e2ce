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

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// discoveryRecheck is how often a running [Discovery] compares the
// addresses it announces with the host's current LAN addresses (so a new
// IP is announced within this delay), and retries a failed start.
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
	// never closed: the mdns package calls notifee.HandlePeerFound from
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
// of the Discovery, and must return quickly; found must not call the
// Discovery's or the Host's Close (both wait for found to return). A
// peer is reported once per announcement it makes: again when it restarts
// or changes address, or when this Discovery restarts because this host's
// addresses changed.
//
// The announcement carries this host's current LAN TCP addresses (the same
// filter as above) and is renewed within 10 s when they change. While the
// host has none (offline, or listening on loopback only) nothing is
// announced or browsed. A failure to start multicast is logged and retried
// every 10 s rather than returned. The error is [ErrClosed] after
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

// notifee receives the mdns package's reports for a Discovery, unexported
// so that callers of Discovery cannot fake one.
type notifee struct{ d *Discovery }

var _ mdns.Notifee = notifee{}

// HandlePeerFound hands ai to run, or drops it once the Discovery is
// closing.
func (n notifee) HandlePeerFound(ai peer.AddrInfo) {
	select {
	case n.d.peers <- ai:
	case <-n.d.ctx.Done():
	}
}

// run owns the mdns service: it starts it, restarts it when the host's LAN
// addresses change (the announcement carries them), delivers found peers,
// and closes it when the Discovery or the Host closes.
func (d *Discovery) run() {
	defer d.hs.wg.Done()
	defer close(d.done)

	f := lanFollower{hs: d.hs, log: d.log, start: func(addrs []ma.Multiaddr) (func(), error) {
		s := mdns.NewMdnsService(newAnnounceHost(d.hs.h, addrs), d.service, notifee{d})
		if err := s.Start(); err != nil {
			_ = s.Close() // stops a half-started service
			return nil, err
		}
		d.log.Info("mDNS discovery started", "addrs", addrsKey(addrs))
		return func() { _ = s.Close() }, nil // Close always returns nil
	}}
	defer f.close()
	f.refresh()
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
			f.refresh()
		}
	}
}

// lanAddrs returns the host's listen addresses as others on the LAN can
// dial them, read afresh: unspecified addresses expanded to the current
// interface addresses, filtered by [lanTCPAddr], sorted.
func (hs *Host) lanAddrs(log *slog.Logger) []ma.Multiaddr {
	ifaces, err := manet.InterfaceMultiaddrs()
	if err != nil {
		log.Debug("listing interface addresses", "err", err)
		return nil
	}
	resolved, err := manet.ResolveUnspecifiedAddresses(hs.h.Network().ListenAddresses(), ifaces)
	if err != nil {
		log.Debug("resolving listen addresses", "err", err)
		return nil
	}
	out := make([]ma.Multiaddr, 0, len(resolved))
	for _, a := range resolved {
		if lanTCPAddr(a) && !slices.ContainsFunc(out, a.Equal) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y ma.Multiaddr) int { return strings.Compare(x.String(), y.String()) })
	return out
}

// addrsKey returns addrs as one comparable string.
func addrsKey(addrs []ma.Multiaddr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// announceHost is the host handed to the mdns package, which announces
// whatever Network().InterfaceListenAddresses returns. The swarm caches that
// list for a minute and includes loopback; announceHost returns the
// addresses run chose instead, so a new IP is announced at once and
// loopback never. (go-libp2p v0.51.0's mdns uses only ID and that method.)
type announceHost struct {
	host.Host
	net announceNet
}

type announceNet struct {
	network.Network
	addrs []ma.Multiaddr
}

func newAnnounceHost(h host.Host, addrs []ma.Multiaddr) announceHost {
	return announceHost{Host: h, net: announceNet{Network: h.Network(), addrs: addrs}}
}

// Network returns the network with the chosen announcement addresses.
func (a announceHost) Network() network.Network { return a.net }

// InterfaceListenAddresses returns the addresses to announce.
func (n announceNet) InterfaceListenAddresses() ([]ma.Multiaddr, error) {
	return slices.Clone(n.addrs), nil
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
