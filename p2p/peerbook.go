package p2p

import (
	"bytes"
	"concord/internal/durable"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// PeersFile is the name, inside the data directory, of the cache of team
// peer addresses. It is only a cache: a corrupt file is logged and ignored.
const PeersFile = "peers.json"

const (
	peersFileVersion = 1
	// saveDebounce coalesces the bursts of connect and identify events
	// into one write (and gives identify time to fill the peerstore).
	saveDebounce = 500 * time.Millisecond
	// maxSavedAddrs bounds the addresses kept per peer.
	maxSavedAddrs = 32
)

type peersFile struct {
	Version int         `json:"version"`
	Peers   []peerEntry `json:"peers"`
}

type peerEntry struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// loadPeers reads peers.json into the address book and the peerstore (with
// PermanentAddrTTL) and returns the cached team peers. Problems are logged,
// never fatal.
func (hs *Host) loadPeers() []peer.ID {
	path := filepath.Join(hs.dataDir, PeersFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		hs.log.Warn("cannot read peer cache, ignoring it", "path", path, "err", err)
		return nil
	}
	var pf peersFile
	if err := json.Unmarshal(data, &pf); err != nil {
		hs.log.Warn("corrupt peer cache, ignoring it", "path", path, "err", err)
		return nil
	}
	if pf.Version != peersFileVersion {
		hs.log.Warn("unknown peer cache version, ignoring it", "path", path, "version", pf.Version)
		return nil
	}
	var ids []peer.ID
	for _, e := range pf.Peers {
		id, err := peer.Decode(e.ID)
		if err != nil {
			hs.log.Warn("skipping bad peer cache entry", "path", path, "id", e.ID, "err", err)
			continue
		}
		if id == hs.h.ID() {
			continue
		}
		addrs := make([]ma.Multiaddr, 0, len(e.Addrs))
		for _, s := range e.Addrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				hs.log.Warn("skipping bad cached address", "peer", id, "addr", s, "err", err)
				continue
			}
			addrs = append(addrs, a)
		}
		hs.h.Peerstore().AddAddrs(id, addrs, peerstore.PermanentAddrTTL)
		hs.book[id] = mergeAddrs(addrs, hs.book[id])
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// CachedTeam returns the team peers that peers.json held when the host
// started: the last team this member knew, even when its state is gone
// (rebuilt after damage) and it must reach the team to get it back.
func (hs *Host) CachedTeam() []peer.ID { return slices.Clone(hs.cached) }

// savePeers refreshes the addresses of connected team peers and writes the
// team's addresses to peers.json if they changed. Errors are logged.
func (hs *Host) savePeers() {
	hs.saveMu.Lock()
	defer hs.saveMu.Unlock()
	hs.refreshBook()

	hs.mu.Lock()
	pf := peersFile{Version: peersFileVersion, Peers: make([]peerEntry, 0, len(hs.team))}
	for id := range hs.team {
		e := peerEntry{ID: id.String(), Addrs: make([]string, 0, len(hs.book[id]))}
		for _, a := range hs.book[id] {
			e.Addrs = append(e.Addrs, a.String())
		}
		pf.Peers = append(pf.Peers, e)
	}
	hs.mu.Unlock()
	slices.SortFunc(pf.Peers, func(a, b peerEntry) int { return strings.Compare(a.ID, b.ID) })

	data, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		hs.log.Warn("encoding peer cache", "err", err)
		return
	}
	if bytes.Equal(data, hs.lastSaved) {
		return
	}
	if err := durable.WriteFile(filepath.Join(hs.dataDir, PeersFile), data, 0o600); err != nil {
		hs.log.Warn("saving peer cache", "err", err)
		return
	}
	hs.lastSaved = data
}

// refreshBook replaces the saved addresses of every connected team peer with
// what the network currently says about it: the remote addresses of its
// live connections, then the addresses it announced in its last identify
// exchange (see identifiedAddrs) or, before identify completes, all its
// peerstore addresses. Replacing rather than merging prunes addresses a peer
// no longer uses (a new port after a restart, say). The fresh set is made
// permanent in the peerstore so the peer can be redialled however long it
// stays away; pruned addresses fall back to an expiring TTL. Offline peers
// keep their saved addresses.
func (hs *Host) refreshBook() {
	ps := hs.h.Peerstore()
	for _, id := range hs.teamIDs() {
		fresh := hs.freshAddrs(id)
		if len(fresh) == 0 {
			continue
		}
		hs.mu.Lock()
		if _, ok := hs.team[id]; !ok {
			hs.mu.Unlock()
			continue
		}
		old := hs.book[id]
		hs.book[id] = fresh
		hs.mu.Unlock()

		ps.AddAddrs(id, fresh, peerstore.PermanentAddrTTL)
		var pruned []ma.Multiaddr
		for _, a := range old {
			if !containsAddr(fresh, a) {
				pruned = append(pruned, a)
			}
		}
		if len(pruned) > 0 {
			ps.SetAddrs(id, pruned, peerstore.RecentlyConnectedAddrTTL)
		}
	}
}

// freshAddrs returns the current addresses of id if it is connected, else
// nil. See refreshBook.
func (hs *Host) freshAddrs(id peer.ID) []ma.Multiaddr {
	conns := hs.h.Network().ConnsToPeer(id)
	if len(conns) == 0 {
		return nil
	}
	addrs := make([]ma.Multiaddr, 0, len(conns)+8)
	for _, c := range conns {
		addrs = append(addrs, c.RemoteMultiaddr())
	}
	hs.mu.Lock()
	announced, ok := hs.identified[id]
	hs.mu.Unlock()
	if ok {
		addrs = append(addrs, announced...)
	} else {
		addrs = append(addrs, hs.h.Peerstore().Addrs(id)...)
	}
	return mergeAddrs(addrs, nil)
}

// noteIdentified remembers the addresses team peer id announced in identify:
// those of its signed peer record when it sent one, else its listen
// addresses. (identify in go-libp2p v0.51 does not store signed records in
// the peerstore, and the peerstore mixes announced addresses with stale
// permanent ones, hence this copy.)
func (hs *Host) noteIdentified(e event.EvtPeerIdentificationCompleted) bool {
	addrs := e.ListenAddrs
	if e.SignedPeerRecord != nil {
		if r, err := e.SignedPeerRecord.Record(); err == nil {
			if rec, ok := r.(*peer.PeerRecord); ok && rec.PeerID == e.Peer {
				addrs = rec.Addrs
			}
		}
	}
	if e.Conn != nil {
		addrs = scopeAddrs(addrs, e.Conn.RemoteMultiaddr())
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, ok := hs.team[e.Peer]; !ok {
		return false
	}
	hs.identified[e.Peer] = mergeAddrs(addrs, nil)
	return true
}

// scopeAddrs drops announced addresses that cannot be reached from where
// the peer was seen, as identify does: loopback addresses unless the peer is
// on this machine, and non-public ones if it came over the internet.
func scopeAddrs(addrs []ma.Multiaddr, remote ma.Multiaddr) []ma.Multiaddr {
	switch {
	case manet.IsIPLoopback(remote):
		return addrs
	case manet.IsPrivateAddr(remote):
		return ma.FilterAddrs(addrs, func(a ma.Multiaddr) bool { return !manet.IsIPLoopback(a) })
	case manet.IsPublicAddr(remote):
		return ma.FilterAddrs(addrs, manet.IsPublicAddr)
	}
	return addrs
}

// mergeAddrs returns a followed by b, without duplicates, unspecified or
// empty addresses, capped at maxSavedAddrs (earlier entries win).
func mergeAddrs(a, b []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(a)+len(b))
	for _, m := range slices.Concat(a, b) {
		if len(out) == maxSavedAddrs {
			break
		}
		if len(m) == 0 || manet.IsIPUnspecified(m) || containsAddr(out, m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

func containsAddr(list []ma.Multiaddr, m ma.Multiaddr) bool {
	return slices.ContainsFunc(list, func(x ma.Multiaddr) bool { return x.Equal(m) })
}

// persistLoop saves peers.json, debounced, after team peers connect or
// finish identify. It exits when the Host closes (Close saves once more).
func (hs *Host) persistLoop() {
	defer hs.wg.Done()
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	arm := func() {
		if fire == nil {
			timer = time.NewTimer(saveDebounce)
			fire = timer.C
		}
	}
	events := hs.idSub.Out()
	for {
		select {
		case <-hs.runCtx.Done():
			return
		case <-hs.dirty:
			arm()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if e, ok := ev.(event.EvtPeerIdentificationCompleted); ok && hs.noteIdentified(e) {
				arm()
			}
		case <-fire:
			fire = nil
			hs.savePeers()
		}
	}
}

// onConnected is the network notifiee for new connections. It runs on
// libp2p's goroutines, so it only signals.
func (hs *Host) onConnected(_ network.Network, c network.Conn) {
	if kick := hs.teamKick(c.RemotePeer()); kick != nil {
		poke(kick)
		poke(hs.dirty)
	}
}

// onDisconnected wakes the peer's keep-connected loop so a lost team peer is
// redialled at once.
func (hs *Host) onDisconnected(_ network.Network, c network.Conn) {
	if kick := hs.teamKick(c.RemotePeer()); kick != nil {
		poke(kick)
	}
}
