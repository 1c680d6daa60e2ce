package node

import (
	"cmp"
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/storage"
)

// A removal notice (/concord/removed/1.0.0) is a member's word, and any
// member could send one. So a notice is only believed once the team shows
// it: this member's own log has the removal, or no other member (than the
// sender) still admits it — after a real removal every member's gater cuts
// the removed member off as it applies the entry. If another member still
// admits it when removalWatch has passed, the notice was false (or early)
// and is ignored.

// removalWatch bounds how long a notice is checked against the team
// (Config.RemovalWatch).
const removalWatch = 60 * time.Second

// confirmRemoval checks the notice nt sent by from, then records the
// removal or ignores the notice. One check runs at a time.
func (n *Node) confirmRemoval(from peer.ID, r storage.Removal) {
	if !n.confirming.CompareAndSwap(false, true) {
		return
	}
	n.goRun(func(ctx context.Context) {
		defer n.confirming.Store(false)
		self := n.ID()
		deadline := time.NewTimer(cmp.Or(n.cfg.RemovalWatch, removalWatch))
		defer deadline.Stop()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if own, err := n.store.Removal(self.String()); err == nil {
				n.removedBy(own)
				return
			}
			admitting := n.othersAdmitting(from)
			if admitting == 0 {
				n.removedBy(r)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-deadline.C:
				n.log.Warn("ignored a removal notice: other members still admit this member", "from", from, "admitting", admitting)
				return
			case <-tick.C:
			}
		}
	})
}

// othersAdmitting counts the members other than this one and except that
// this member is connected to.
func (n *Node) othersAdmitting(except peer.ID) int {
	n.team.mu.RLock()
	defer n.team.mu.RUnlock()
	count := 0
	for p := range n.team.members {
		if p != n.ID() && p != except && n.host.IsConnected(p) {
			count++
		}
	}
	return count
}
