//go:build !headless

package backend

// The window's message actions (edit, delete, react, reply) and the part of
// the event pump that follows the store's change feed, so a message edited,
// deleted or reacted to anywhere updates in place in the open window.

import (
	"context"
	"errors"
	"fmt"

	"concord/app"
	"concord/node"
	"concord/storage"
)

// changeBurst is how many change-feed entries the pump reads at a time.
const changeBurst = 500

// Reply implements app.Backend.
func (b *Backend) Reply(ctx context.Context, parent, text string) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	id, err := n.Reply(ctx, parent, text, true)
	return id, appQueued(err)
}

// appQueued marks a node's node.ErrQueued (safe in the outbox, applied once the
// team has quorum) as the app's.
func appQueued(err error) error {
	if errors.Is(err, node.ErrQueued) {
		return fmt.Errorf("%w (%w)", app.ErrQueued, err)
	}
	return err
}

// Edit implements app.Backend.
func (b *Backend) Edit(ctx context.Context, id, text string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return appQueued(n.Edit(ctx, id, text))
}

// Delete implements app.Backend.
func (b *Backend) Delete(ctx context.Context, id string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return appQueued(n.Delete(ctx, id))
}

// React implements app.Backend.
func (b *Backend) React(ctx context.Context, id, emoji string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	_, err = n.React(ctx, id, emoji)
	return appQueued(err)
}

// followChanges publishes an EventChanged for every change-feed entry
// after *last (of a channel this member reads), with the message as it is
// now, and moves *last on. A reader that fell behind the bounded feed gets
// one EventStale instead.
func (b *Backend) followChanges(n *node.Node, last *uint64) {
	for {
		changes, complete, err := n.Changes(*last, changeBurst)
		if err != nil {
			b.log.Warn("read the change feed", "err", err)
			return
		}
		if !complete {
			if *last, err = n.LastChange(); err != nil {
				b.log.Warn("read the change feed", "err", err)
			}
			b.publish(app.Event{Kind: app.EventStale})
			return
		}
		for _, ch := range changes {
			*last = ch.N
			msgs, err := n.Read(ch.Channel, storage.Query{Before: ch.Seq + 1, Limit: 1})
			if err != nil || len(msgs) != 1 || msgs[0].ID != ch.ID {
				continue // a channel this member does not read, or gone
			}
			b.publish(app.Event{Kind: app.EventChanged, Message: msgs[0]})
		}
		if len(changes) < changeBurst {
			return
		}
	}
}
