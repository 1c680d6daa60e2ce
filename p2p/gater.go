package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gater is the host's connection gater. A closed host admits only the
// peers it was told are allowed (the team's members, plus whoever holds an
// open invite); any host refuses blocked peers. Both directions are gated,
// and an inbound peer is checked once its identity is proven (after the
// security handshake). Tests block peers to partition a team the way a
// network failure would.
type gater struct {
	mu      sync.RWMutex
	closed  bool
	allowed map[peer.ID]bool
	blocked map[peer.ID]bool
}

func newGater(closed bool, allowed []peer.ID) *gater {
	g := &gater{closed: closed, blocked: map[peer.ID]bool{}}
	g.setAllowed(allowed)
	return g
}

func (g *gater) setAllowed(ids []peer.ID) {
	m := make(map[peer.ID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	g.mu.Lock()
	g.allowed = m
	g.mu.Unlock()
}

func (g *gater) admits(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return !g.blocked[p] && (!g.closed || g.allowed[p])
}

func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return g.admits(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.admits(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.admits(p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// Admits reports whether the gater lets p connect now.
func (hs *Host) Admits(p peer.ID) bool { return hs.gater.admits(p) }

// SetAllowed replaces the set of peers a closed host admits. Connections
// already open to peers that left the set are not closed here: the caller
// may want to tell them why first; see [Host.Disconnect].
func (hs *Host) SetAllowed(ids []peer.ID) { hs.gater.setAllowed(ids) }

// Disconnect closes every connection to p.
func (hs *Host) Disconnect(p peer.ID) { _ = hs.h.Network().ClosePeer(p) }

// Block cuts this host off from p: existing connections are closed and new
// ones refused in both directions until Unblock.
func (hs *Host) Block(p peer.ID) {
	hs.gater.mu.Lock()
	hs.gater.blocked[p] = true
	hs.gater.mu.Unlock()
	_ = hs.h.Network().ClosePeer(p)
}

// Unblock lets p connect again.
func (hs *Host) Unblock(p peer.ID) {
	hs.gater.mu.Lock()
	delete(hs.gater.blocked, p)
	hs.gater.mu.Unlock()
}
