package consensus

import (
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"concord/p2p"
	"concord/storage"
)

// admitHost hands the Raft transport a host whose stream handlers refuse
// peers that Config.Allow does not admit. The connection gater already
// keeps non-members out; this is the second lock, on the Raft RPC streams
// themselves, for a peer that got a connection some other way.
type admitHost struct {
	host.Host
	allow func(peer.ID) bool
}

// SetStreamHandler registers handler behind the admission check.
func (h admitHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) {
		if !h.allow(s.Conn().RemotePeer()) {
			_ = s.Reset()
			return
		}
		handler(s)
	})
}

// boundedHost hands the Raft transport a host whose stream handlers keep at
// most max streams per peer open (see p2p.BoundedOpen): the transport
// serves each stream until the peer closes it, with no deadline.
type boundedHost struct {
	host.Host
	max int
}

// SetStreamHandler registers handler behind the bound.
func (h boundedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, p2p.BoundedOpen(h.max, handler))
}

// admit is the leader's check of an op that a member forwarded: a message
// must be authored by the sender and valid; any other op must name the
// sender as its proposer (storage then decides, deterministically, whether
// that proposer may do it).
func (r *Replica) admit(from peer.ID, op storage.Op) error {
	if err := checkOpShape(op); err != nil {
		return err
	}
	if op.Sig != nil && op.Sig.Signer != from.String() {
		return fmt.Errorf("ops signed by %q sent by %s", op.Sig.Signer, from)
	}
	if op.Kind != storage.OpMessage {
		if op.By != from.String() {
			return fmt.Errorf("op proposed as %q by %s", op.By, from)
		}
		return nil
	}
	if op.Message.Author != from.String() {
		return fmt.Errorf("author %s is not the sender %s", op.Message.Author, from)
	}
	// Validated before it is proposed: a committed message is acknowledged
	// without waiting for the FSM, so it must not be refused there.
	return storage.ValidateEnvelope(*op.Message)
}

// admitAll admits each op; an op of a signed group is refused with the
// first refusal of its group, since its signature covers the whole group.
func (r *Replica) admitAll(from peer.ID, ops []storage.Op) []error {
	errs := make([]error, len(ops))
	for i, op := range ops {
		errs[i] = r.admit(from, op)
	}
	i := 0
	for _, g := range signedGroups(ops) {
		j := i + len(g)
		if first := slices.IndexFunc(errs[i:j], func(e error) bool { return e != nil }); first >= 0 {
			for k := i; k < j; k++ {
				if errs[k] == nil {
					errs[k] = fmt.Errorf("signed together with a refused op: %w", errs[i+first])
				}
			}
		}
		i = j
	}
	return errs
}
