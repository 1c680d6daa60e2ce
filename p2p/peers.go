package p2p

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// TeamProtectTag is the connection manager protection tag put on team
// peers, so that their connections (which carry Raft) are never trimmed.
const TeamProtectTag = "concord-team"

// teamPeer is the state of one team peer's keep-connected loop.
type teamPeer struct {
	cancel context.CancelFunc
	kick   chan struct{} // capacity 1: "look again now"
}

// AddPeer records addrs as permanent addresses of id (they never expire
// from the peerstore) and makes id a team peer: it is protected, kept
// connected and persisted in peers.json, until a later [Host.SetTeam]
// without it. Addresses may carry a trailing /p2p/<id>; addresses naming a
// different peer are ignored. Adding this host's own ID is a no-op.
func (hs *Host) AddPeer(id peer.ID, addrs []ma.Multiaddr) {
	if err := id.Validate(); err != nil {
		hs.log.Warn("ignoring invalid peer ID", "err", err)
		return
	}
	if id == hs.h.ID() {
		return
	}
	clean := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		if len(a) == 0 {
			continue
		}
		transport, owner := peer.SplitAddr(a)
		if owner != "" && owner != id {
			hs.log.Warn("ignoring address of another peer", "peer", id, "addr", a.String())
			continue
		}
		if len(transport) > 0 {
			clean = append(clean, transport)
		}
	}
	hs.h.Peerstore().AddAddrs(id, clean, peerstore.PermanentAddrTTL)

	hs.mu.Lock()
	if hs.closed {
		hs.mu.Unlock()
		return
	}
	hs.book[id] = mergeAddrs(clean, hs.book[id])
	if tp, ok := hs.team[id]; ok {
		poke(tp.kick) // new addresses: try them now
	} else {
		hs.startTeamPeerLocked(id)
	}
	hs.mu.Unlock()
	hs.savePeers()
}

// SetTeam makes ids the exact set of team peers (this host's own ID, if
// present, is skipped). New team peers are protected in the connection
// manager under [TeamProtectTag] and get a background loop that dials them
// whenever they are not connected, with exponential backoff from 250 ms to
// 10 s. Peers no longer in the set are unprotected, no longer redialled and
// dropped from peers.json. The resulting set is saved to peers.json.
func (hs *Host) SetTeam(ids []peer.ID) {
	want := make(map[peer.ID]bool, len(ids))
	for _, id := range ids {
		if err := id.Validate(); err != nil {
			hs.log.Warn("ignoring invalid team peer ID", "err", err)
			continue
		}
		if id != hs.h.ID() {
			want[id] = true
		}
	}

	hs.mu.Lock()
	if hs.closed {
		hs.mu.Unlock()
		return
	}
	for id, tp := range hs.team {
		if !want[id] {
			tp.cancel()
			delete(hs.team, id)
			delete(hs.book, id)
			delete(hs.identified, id)
			hs.cm.Unprotect(id, TeamProtectTag)
		}
	}
	for id := range want {
		if _, ok := hs.team[id]; !ok {
			hs.startTeamPeerLocked(id)
		}
	}
	hs.mu.Unlock()
	hs.savePeers()
}

// startTeamPeerLocked protects id and starts its keep-connected loop.
// hs.mu must be held and hs.closed false.
func (hs *Host) startTeamPeerLocked(id peer.ID) {
	ctx, cancel := context.WithCancel(hs.runCtx)
	tp := &teamPeer{cancel: cancel, kick: make(chan struct{}, 1)}
	hs.team[id] = tp
	if _, ok := hs.book[id]; !ok {
		hs.book[id] = nil
	}
	hs.cm.Protect(id, TeamProtectTag)
	hs.wg.Add(1)
	go hs.keepConnected(ctx, id, tp.kick)
}

// Connect dials ai (using ai.Addrs plus any address already known for
// ai.ID) and waits for the connection to be identified. It returns nil at
// once if the peer is already connected. Unlike libp2p's own Connect it
// ignores the swarm's dial backoff from earlier failures, since a caller
// asking explicitly wants a real attempt. ai's addresses are not
// persisted: use [Host.AddPeer] for that.
func (hs *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if hs.isClosed() {
		return ErrClosed
	}
	if ai.ID == hs.h.ID() {
		return fmt.Errorf("p2p: connecting to %s: cannot connect to self", ai.ID)
	}
	if hs.IsConnected(ai.ID) {
		return nil
	}
	hs.clearDialBackoff(ai.ID)
	if err := hs.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("p2p: connecting to %s: %w", ai.ID, err)
	}
	return nil
}

// IsConnected reports whether this host has a live connection to id.
func (hs *Host) IsConnected(id peer.ID) bool {
	return hs.h.Network().Connectedness(id) == network.Connected
}

// TeamConnected returns how many team peers (excluding this host) are
// currently connected.
func (hs *Host) TeamConnected() int {
	n := 0
	for _, id := range hs.teamIDs() {
		if hs.IsConnected(id) {
			n++
		}
	}
	return n
}

// teamIDs returns a snapshot of the team set.
func (hs *Host) teamIDs() []peer.ID {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	ids := make([]peer.ID, 0, len(hs.team))
	for id := range hs.team {
		ids = append(ids, id)
	}
	return ids
}

// teamKick returns the kick channel of team peer id, or nil.
func (hs *Host) teamKick(id peer.ID) chan struct{} {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if tp, ok := hs.team[id]; ok {
		return tp.kick
	}
	return nil
}

// clearDialBackoff forgets the swarm's record of failed dials to id. The
// swarm backs off a failed address for 5 s growing quadratically to 5 min,
// which would defeat our own, LAN-sized backoff.
func (hs *Host) clearDialBackoff(id peer.ID) {
	type backoffer interface{ Backoff() *swarm.DialBackoff }
	if b, ok := hs.h.Network().(backoffer); ok {
		b.Backoff().Clear(id)
	}
}

// poke does a non-blocking send on a capacity-1 signal channel.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
