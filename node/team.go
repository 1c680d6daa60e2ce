package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"concord/p2p"
	"concord/storage"
)

// inviteGrace keeps an invite's key admitted this long after it expired or
// was used, so that its holder hears why it cannot join rather than being
// hung up on.
const inviteGrace = 24 * time.Hour

// team is what the node knows of who may talk to it: the committed member
// list, plus the keys of recent invites (admitted for the join protocol
// only). It is recomputed whenever a membership entry is applied.
type team struct {
	mu      sync.RWMutex
	members map[peer.ID]bool
	invited map[peer.ID]bool
}

func (t *team) isMember(p peer.ID) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.members[p]
}

func (t *team) isInvited(p peer.ID) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.invited[p]
}

// refreshTeam brings the host in step with the committed member list: who
// the gater admits, who is kept connected, and who is cut off. It runs on
// Raft's apply goroutine (through OnMembers) and at start, so it must not
// block: goodbyes to removed members go out in the background.
func (n *Node) refreshTeam() {
	members, err := n.store.Members()
	if err != nil {
		n.log.Error("read members", "err", err)
		return
	}
	invites, err := n.store.Invites()
	if err != nil {
		n.log.Error("read invites", "err", err)
		return
	}
	self := n.host.ID()
	now := n.clock.Now()
	ids := map[peer.ID]bool{}
	var keep []peer.ID
	for _, m := range members {
		id, err := peer.Decode(m.ID)
		if err != nil {
			continue
		}
		ids[id] = true
		if id == self {
			continue
		}
		var addrs []ma.Multiaddr
		for _, a := range m.Addrs {
			if addr, err := ma.NewMultiaddr(a); err == nil {
				addrs = append(addrs, addr)
			}
		}
		n.host.AddPeer(id, addrs)
		keep = append(keep, id)
	}
	if len(members) == 0 {
		// A joiner before its copy of the log arrives: the members it
		// learned when it was admitted. A member whose state was rebuilt
		// (damage): the team it last knew, from its peer cache.
		known := n.host.CachedTeam()
		for _, s := range n.conf.Seeds {
			if id, err := peer.Decode(s); err == nil {
				known = append(known, id)
			}
		}
		for _, id := range known {
			if id != self && !ids[id] {
				ids[id] = true
				keep = append(keep, id)
			}
		}
	}
	invited := map[peer.ID]bool{}
	for _, inv := range invites {
		if id, err := peer.Decode(inv.Key); err == nil && now.Before(inv.Expires.Add(inviteGrace)) {
			invited[id] = true
		}
	}
	n.team.mu.Lock()
	before := n.team.members
	n.team.members, n.team.invited = ids, invited
	n.team.mu.Unlock()

	allowed := make([]peer.ID, 0, len(ids)+len(invited))
	for id := range ids {
		allowed = append(allowed, id)
	}
	for id := range invited {
		allowed = append(allowed, id)
	}
	n.host.SetAllowed(allowed)
	n.host.SetTeam(keep)
	for id := range before {
		if !ids[id] && id != self {
			n.farewell(id)
		}
	}
	if r, err := n.store.Removal(self.String()); err == nil {
		n.removedBy(r)
	}
}

// inviteSweep recomputes the team now and then, so that expired invite
// keys stop being admitted even when nothing else changes.
func (n *Node) inviteSweep(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.refreshTeam()
		}
	}
}

// removalNotice travels over /concord/removed/1.0.0 to a member that was
// just removed, so its own app can say so instead of looking offline.
type removalNotice struct {
	Team string    `json:"team"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// Per-peer bounds on the streams this member serves at once (see
// p2p.Bounded), a little above what an honest peer uses: a joiner asks
// once and may retry, a removed member hears once, a member fetches files
// one at a time (the app and the background fetch: two), a member asks the
// time once per round. Without them a member opening thousands of streams
// parks a goroutine per stream (and, for files, an open file) until each
// deadline (2 s to 10 min).
const (
	maxJoinStreams    = 2
	maxRemovedStreams = 2
	maxBlobStreams    = 4
	maxTimeStreams    = 4
)

// farewell tells a member that left the list why, then cuts it off.
func (n *Node) farewell(id peer.ID) {
	r, err := n.store.Removal(id.String())
	if err != nil || !n.host.IsConnected(id) {
		n.host.Disconnect(id)
		return
	}
	n.goRun(func(ctx context.Context) {
		defer n.host.Disconnect(id)
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := n.host.Host().NewStream(network.WithAllowLimitedConn(ctx, "farewell"), id, p2p.ProtoRemoved)
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(2 * time.Second))
		b, _ := json.Marshal(removalNotice{Team: n.conf.TeamID, By: r.By, At: r.At})
		if err := p2p.WriteFrame(s, b); err == nil {
			_, _ = p2p.ReadFrame(s, 16) // the removed member's ack, or EOF
		}
	})
}

// serveRemoved hears that this member was removed. Only a member can say
// so (the stream comes from a peer this member admits), and what it says is
// checked against the team before it is believed (confirmRemoval).
func (n *Node) serveRemoved(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	if !n.team.isMember(from) {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := p2p.ReadFrame(s, 4096)
	var nt removalNotice
	if err != nil || json.Unmarshal(b, &nt) != nil || nt.Team != n.conf.TeamID {
		_ = s.Reset()
		return
	}
	_ = p2p.WriteFrame(s, []byte("ok"))
	n.confirmRemoval(from, storage.Removal{ID: n.ID().String(), Name: n.conf.Name, By: nt.By, At: nt.At})
}

func removedPath(dir string) string { return filepath.Join(dir, "removed.json") }

// removedBy records that this member was removed (so the next start says
// so) and tells whoever watches Removed.
func (n *Node) removedBy(r storage.Removal) {
	n.removedOnce.Do(func() {
		b, _ := json.Marshal(r)
		if err := os.WriteFile(removedPath(n.cfg.Dir), b, 0o600); err != nil {
			n.log.Error("record removal", "err", err)
		}
		n.log.Warn("this member was removed from the team", "by", r.By, "at", r.At)
		n.removal = r
		close(n.removed)
	})
}

// Removed is closed when this member learns it was removed from the team.
func (n *Node) Removed() <-chan struct{} { return n.removed }

// RemovedError describes the removal recorded in dir, nil if none.
func RemovedError(dir string) error {
	b, err := os.ReadFile(removedPath(dir))
	if err != nil {
		return nil
	}
	var r storage.Removal
	_ = json.Unmarshal(b, &r)
	by := r.By
	if r.By == r.ID {
		by = "itself (it left)"
	}
	return fmt.Errorf("%w (by %s on %s): its history stays in %s, but to take part again join with a new invite and a new data dir",
		ErrRemoved, by, r.At.Local().Format("2006-01-02 15:04"), dir)
}
