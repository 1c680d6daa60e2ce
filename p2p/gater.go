package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gater is the host's connection gater. It refuses blocked peers in both
// directions; membership admission builds on it, and tests use it to
// partition a team the way a network failure would.
type gater struct {
	mu      sync.RWMutex
	blocked map[peer.ID]bool
}

func newGater() *gater { return &gater{blocked: map[peer.ID]bool{}} }

func (g *gater) isBlocked(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.blocked[p]
}

func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return !g.isBlocked(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.isBlocked(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.isBlocked(p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

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
