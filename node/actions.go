package node

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"concord/storage"
)

// Edits, deletions and reactions go through the outbox like messages: they
// are kept durably while the team has no quorum and delivered later,
// exactly once (the log deduplicates their IDs), in order with this
// member's messages, so an edit of a message always lands after it.

// Edit replaces the text of one of this member's messages. Like Send it
// waits for the commit; when ctx ends first the edit stays queued and the
// error wraps ErrQueued.
func (n *Node) Edit(ctx context.Context, id, text string) error {
	_, err := n.EditOp(ctx, id, text)
	return err
}

// EditOp is Edit that also returns the ID of the edit op.
func (n *Node) EditOp(ctx context.Context, id, text string) (string, error) {
	t, err := n.target(ctx, id)
	if err != nil {
		return "", err
	}
	if t.Author != n.ID().String() {
		return "", fmt.Errorf("%w: only the author can edit a message", ErrInvalid)
	}
	if members, err := n.private(t.Channel); err == nil && members != nil && t.File != nil {
		// Its sealed text carries the file's key: an edit would lose it.
		return "", fmt.Errorf("%w: a file in a private conversation cannot be edited", ErrInvalid)
	}
	return n.act(ctx, t, storage.Action{Kind: storage.OpEdit, Target: id}, text)
}

// Delete deletes a message (this member's own, or anyone's for an admin),
// waiting like Edit.
func (n *Node) Delete(ctx context.Context, id string) error {
	_, err := n.DeleteOp(ctx, id)
	return err
}

// DeleteOp is Delete that also returns the ID of the delete op.
func (n *Node) DeleteOp(ctx context.Context, id string) (string, error) {
	t, err := n.target(ctx, id)
	if err != nil {
		return "", err
	}
	if self := n.ID().String(); t.Author != self {
		if m, err := n.store.Member(self); err != nil || m.Role != storage.RoleAdmin {
			return "", fmt.Errorf("%w: only the author or an admin can delete a message", ErrInvalid)
		}
	}
	return n.act(ctx, t, storage.Action{Kind: storage.OpDelete, Target: id}, "")
}

// React toggles this member's reaction emoji on a message and reports
// whether it is now on, waiting like Edit. The op itself says "on" or
// "off", so a retry cannot flip it back.
func (n *Node) React(ctx context.Context, id, emoji string) (bool, error) {
	_, on, err := n.ReactOp(ctx, id, emoji)
	return on, err
}

// ReactOp is React that also returns the ID of the reaction op.
func (n *Node) ReactOp(ctx context.Context, id, emoji string) (string, bool, error) {
	t, err := n.target(ctx, id)
	if err != nil {
		return "", false, err
	}
	on, err := n.reacted(t, id, emoji)
	if err != nil {
		return "", false, err
	}
	on = !on
	op, err := n.act(ctx, t, storage.Action{Kind: storage.OpReact, Target: id, Remove: !on}, emoji)
	return op, on, err
}

// target finds message id for an edit, deletion or reaction: committed,
// or still queued in this member's outbox (it will land first).
func (n *Node) target(ctx context.Context, id string) (storage.Message, error) {
	m, err := n.store.Lookup(id)
	if err == nil {
		return m, nil
	}
	if e, err := n.outbox.Get(id); err == nil && e.Envelope.Action == nil && e.State != storage.OutboxFailed {
		return storage.Message{Envelope: e.Envelope}, nil
	}
	return n.message(ctx, id)
}

// reacted says whether this member's reaction emoji is on message t (id),
// counting the reactions still queued in the outbox, the last one winning.
func (n *Node) reacted(t storage.Message, id, emoji string) (bool, error) {
	self := n.ID().String()
	on := slices.Contains(t.Reactions[emoji], self)
	queued, err := n.outbox.Pending(0)
	if err != nil {
		return false, err
	}
	for _, e := range queued {
		if a := e.Envelope.Action; a != nil && a.Kind == storage.OpReact && a.Target == id && e.Envelope.Text == emoji {
			on = !a.Remove
		}
	}
	return on, nil
}

// act queues an action on message t and waits for it like send; once
// applied it reports the log's refusal, if any, as ErrInvalid.
func (n *Node) act(ctx context.Context, t storage.Message, a storage.Action, text string) (string, error) {
	env := storage.Envelope{Channel: t.Channel, Text: text, Action: &a}
	id, index, err := n.deliver(ctx, env, true)
	if err != nil {
		return id, err
	}
	if err := n.replica.WaitApplied(ctx, index); err != nil {
		return id, fmt.Errorf("committed at index %d but not yet applied here: %w", index, err)
	}
	switch applied, refusal, err := n.store.OpResult(id); {
	case err != nil:
		return id, err
	case !applied:
		return id, errors.New("committed but not found in the log")
	case refusal != "":
		return id, fmt.Errorf("%w: %s", ErrInvalid, refusal)
	}
	return id, nil
}
