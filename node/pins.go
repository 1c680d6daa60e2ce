package node

import (
	"context"
	"fmt"

	"concord/storage"
	"concord/version"
)

// pinsProtocol is the team version pins need (Concord 0.3.0 on every
// member): older releases could not apply them.
const pinsProtocol = 3

// Pin pins message id in its channel (unpin: takes the pin off). Any
// member may; the team version must allow pins.
func (n *Node) Pin(ctx context.Context, id string, unpin bool) error {
	if tv := n.store.TeamVersion(); tv < pinsProtocol {
		return fmt.Errorf("%w: pins need team version %d (Concord %s on every member); the team is at %d "+
			"(concord team-version says who holds it back)", ErrInvalid, pinsProtocol, version.ReleaseFor(pinsProtocol), tv)
	}
	m, err := n.message(ctx, id)
	if err != nil {
		return err
	}
	_, err = n.commit(ctx, storage.Op{Kind: storage.OpPin, By: n.ID().String(), Target: m.ID, Remove: unpin})
	return err
}

// Pins lists the messages pinned in channel, in channel order, as they
// read now.
func (n *Node) Pins(ctx context.Context, channel string) ([]storage.Message, error) {
	if err := n.caughtUp(ctx); err != nil {
		return nil, err
	}
	participants, err := n.private(channel)
	if err != nil {
		return nil, fmt.Errorf("%w: channel %q: %v", ErrInvalid, channel, err)
	}
	msgs, err := n.store.Pins(channel)
	if err != nil {
		return nil, err
	}
	out := msgs[:0]
	for _, m := range msgs {
		if !m.Deleted {
			if participants != nil { // a private conversation: texts are sealed
				n.reveal(&m)
			}
			out = append(out, m)
		}
	}
	return out, nil
}
