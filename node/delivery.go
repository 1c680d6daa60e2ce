package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/consensus"
	"concord/failover"
	"concord/storage"
)

// queued is the error of a send that ended before its message was
// committed: it wraps ErrQueued, and says the real reason when it is not
// the team's quorum but this member's storage.
func (n *Node) queued(cause error) error {
	if nu := n.blocked(); nu != nil {
		return &heldError{cause: cause, msg: fmt.Sprintf("not committed yet: the message is queued "+
			"and will be delivered once this member is upgraded: %v", nu)}
	}
	if p := n.storageProblem(); p != nil {
		return &heldError{cause: cause, msg: fmt.Sprintf("not committed yet: the message is queued "+
			"and will be delivered when this member can store the team's messages again (%v)", p)}
	}
	return fmt.Errorf("%w (%v)", ErrQueued, cause)
}

// heldError is ErrQueued with another sentence: held by this member.
type heldError struct {
	msg   string
	cause error
}

func (e *heldError) Error() string        { return e.msg }
func (e *heldError) Is(target error) bool { return target == ErrQueued }
func (e *heldError) Unwrap() error        { return e.cause }

// startProbes starts the liveness probes: a monitor of the team, and the
// responder for members' probes (served once consensus runs:
// answerProbe asks it). They come before consensus, whose autopilot asks
// the monitor who is online.
func (n *Node) startProbes() error {
	var err error
	n.responder, err = failover.NewResponder(failover.ResponderConfig{Admit: n.answerProbe, Logger: n.cfg.Logger})
	if err != nil {
		return err
	}
	n.monitor, err = failover.New(failover.Config{Host: n.host.Host(), Peers: n.teamPeers, Logger: n.cfg.Logger})
	if err != nil {
		return err
	}
	n.monitor.Start()
	return nil
}

// startDelivery opens the outbox and starts the drainer.
func (n *Node) startDelivery() error {
	var err error
	n.outbox, err = storage.OpenOutbox(storage.OutboxConfig{Path: filepath.Join(n.cfg.Dir, storage.OutboxFileName), Logger: n.cfg.Logger})
	if err != nil {
		return err
	}
	n.drain, err = failover.NewDrainer(failover.DrainConfig{Outbox: n.drainOutbox(), Proposer: proposer{n.replica, n},
		Clock: n.clock.Now, Logger: n.cfg.Logger})
	if err != nil {
		return err
	}
	return n.drain.Start()
}

func (n *Node) stopDelivery() error {
	var errs []error
	if n.monitor != nil {
		errs = append(errs, n.monitor.Close())
	}
	if n.responder != nil {
		n.responder.Unserve()
	}
	if n.drain != nil {
		errs = append(errs, n.drain.Close())
	}
	if n.outbox != nil {
		errs = append(errs, n.outbox.Close())
	}
	return errors.Join(errs...)
}

// answerProbe says whether a peer's probe is answered: a member's, while
// this member can store the team's entries. A member whose Raft log or
// state store cannot be written must not look healthy to the others (the
// leader would count on it; autopilot would keep it a voter).
func (n *Node) answerProbe(p peer.ID) bool {
	return n.team.isMember(p) && n.storageProblem() == nil
}

// storageProblem says why this member cannot store the team's entries
// now, or nil: its Raft log or a snapshot cannot be written, or applying
// committed entries to its state stopped.
func (n *Node) storageProblem() error {
	if err := n.replica.StorageErr(); err != nil {
		return err
	}
	if st := n.replica.Stall(); st != nil {
		return st
	}
	return nil
}

// teamPeers is the team minus this member, for the probes.
func (n *Node) teamPeers() []peer.ID {
	members, err := n.store.Members()
	if err != nil {
		return nil
	}
	out := make([]peer.ID, 0, len(members))
	for _, m := range members {
		if p, err := peer.Decode(m.ID); err == nil && p != n.ID() {
			out = append(out, p)
		}
	}
	return out
}

// Send queues a message (durably) and waits until it is committed. When ctx
// ends first the message stays queued and the error wraps ErrQueued.
func (n *Node) Send(ctx context.Context, channel, text string) (string, error) {
	return n.send(ctx, storage.Envelope{Channel: channel, Text: text}, true)
}

// SendNoWait returns as soon as the message is safe in the outbox.
func (n *Node) SendNoWait(ctx context.Context, channel, text string) (string, error) {
	return n.send(ctx, storage.Envelope{Channel: channel, Text: text}, false)
}

// send gives env (channel, text and, for a reply, its parent) an ID, this
// member as author and the corrected time, and delivers it.
func (n *Node) send(ctx context.Context, env storage.Envelope, wait bool) (string, error) {
	id, _, err := n.deliver(ctx, env, wait)
	return id, err
}

// deliver is send that also returns the log index the envelope committed
// at (0 without wait). A message's or an edit's text is sealed for a
// private conversation; an action (edit, deletion, reaction) travels the
// same way as a message, so it keeps its place after the messages before
// it.
func (n *Node) deliver(ctx context.Context, env storage.Envelope, wait bool) (string, uint64, error) {
	if err := n.roomFor(ctx, 0); err != nil {
		return "", 0, err
	}
	// A new ID, unless the caller chose one (benchmarks watch for it).
	env.ID, env.Author, env.SentAt = cmp.Or(env.ID, newMessageID()), n.host.ID().String(), n.clock.Now().UTC()
	if err := storage.ValidateOutgoing(env); err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	_, judged, err := n.sendTo(ctx, env.Channel)
	if err != nil {
		return "", 0, err
	}
	if judged && (env.Action == nil || env.Action.Kind == storage.OpEdit) {
		if env.Text, err = n.seal(env.Channel, env.Text); err != nil {
			return "", 0, err
		}
	}
	// The drainer may propose it while the outbox write is under way: the
	// fsync and the round trip to the leader overlap.
	t := n.drain.Add(env)
	_, err = n.outbox.Put(env, n.clock.Now())
	t.Stored(err)
	if err != nil {
		return "", 0, fmt.Errorf("could not save the message: %w", err)
	}
	if !wait {
		return env.ID, 0, nil
	}
	if n.blocked() != nil { // kept in the outbox until this member is upgraded
		return env.ID, 0, n.queued(consensus.ErrStalled)
	}
	index, err := t.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return env.ID, 0, n.queued(ctx.Err())
		}
		return env.ID, 0, refused(err)
	}
	n.noteAcked(index)
	return env.ID, index, nil
}

// refused marks a final refusal of the team's (the leader's, or the log's:
// a channel that did not exist when the message committed) as ErrInvalid:
// sent again as it is, it would be refused again.
func refused(err error) error {
	if errors.Is(err, failover.ErrRefused) {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

// Retry puts a message the team refused back in the queue (the user pressed
// retry) and waits like Send. It keeps its ID and its place before later
// messages, so it can never be delivered twice. A message already
// committed is not an error; one still queued gives ErrQueued.
func (n *Node) Retry(ctx context.Context, id string) error {
	e, err := n.outbox.Get(id)
	if err != nil {
		return err
	}
	switch e.State {
	case storage.OutboxSent:
		return nil
	case storage.OutboxQueued:
		return ErrQueued
	}
	if err := n.roomFor(ctx, 0); err != nil {
		return err
	}
	if err := n.outbox.Retry(id); err != nil {
		return err
	}
	t := n.drain.Add(e.Envelope)
	t.Stored(nil)
	index, err := t.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return n.queued(ctx.Err())
		}
		return refused(err)
	}
	n.noteAcked(index)
	return nil
}

// blocked says whether this member stopped at a committed entry for a
// newer release (nil if not).
func (n *Node) blocked() *consensus.NeedsUpgradeError {
	if st := n.replica.Stall(); st != nil {
		return st.NeedsUpgrade()
	}
	return nil
}

// proposer adapts the replica to the drainer.
type proposer struct {
	r *consensus.Replica
	n *Node
}

// Propose proposes envs, except while this member is blocked on an
// upgrade: then they stay in the outbox (a transient failure the drainer
// retries), to be sent once it runs a release that reads the team's log —
// it could not see them applied before that.
func (p proposer) Propose(ctx context.Context, envs []storage.Envelope) []failover.Outcome {
	if st := p.r.Stall(); st != nil && st.NeedsUpgrade() != nil {
		out := make([]failover.Outcome, len(envs))
		for i := range out {
			out[i].Err = st
		}
		return out
	}
	ops := make([]storage.Op, len(envs))
	var unjudged []bool // messages to channels not known here (yet)
	for i := range envs {
		ops[i] = envs[i].Op()
		if envs[i].Action == nil {
			if _, err := p.n.private(envs[i].Channel); err != nil {
				if unjudged == nil {
					unjudged = make([]bool, len(envs))
				}
				unjudged[i] = true
			}
		}
	}
	res := p.r.SubmitBatch(ctx, ops)
	out := make([]failover.Outcome, len(res))
	for i, o := range res {
		out[i] = failover.Outcome{Index: o.Index, Err: o.Err, Final: errors.Is(o.Err, consensus.ErrRefused)}
		if o.Err == nil && unjudged != nil && unjudged[i] {
			out[i] = p.confirm(ctx, envs[i], o.Index)
		}
	}
	return out
}

// confirm settles a committed message whose channel this member did not
// know when it proposed it (sendTo could not judge it, or it was queued
// before a restart that left this member behind). A message's commit
// stands for its delivery only because its sender checked the channel
// exists; here the log has to say: the store refuses, and leaves out, a
// message whose channel did not exist when it committed. So this member
// applies the entry and looks: the message stored is delivered; one left
// out is refused for good with the store's reason, and shows in the
// outbox as failed, to be retried once the channel exists.
func (p proposer) confirm(ctx context.Context, env storage.Envelope, index uint64) failover.Outcome {
	if err := p.r.WaitApplied(ctx, index); err != nil {
		// Proposed again (the same ID): the log drops it if it was stored.
		return failover.Outcome{Err: fmt.Errorf("committed at index %d, not applied here yet: %w", index, err)}
	}
	switch _, err := p.n.store.Lookup(env.ID); {
	case err == nil:
		return failover.Outcome{Index: index}
	case errors.Is(err, storage.ErrNotFound):
		return failover.Outcome{Index: index, Err: storage.ErrUnknownChannel, Final: true}
	default:
		return failover.Outcome{Err: err}
	}
}

func (p proposer) WaitApplied(ctx context.Context, index uint64) error {
	return p.r.WaitAppliedLazily(ctx, index)
}

func (p proposer) LeaderChanged() <-chan struct{} { return p.r.LeaderChanged() }

// Outbox lists queued and failed messages, oldest first.
func (n *Node) Outbox() ([]storage.OutboxEntry, error) {
	entries, err := n.outbox.List(storage.OutboxQueued, storage.OutboxFailed)
	if err != nil {
		return nil, err
	}
	out := entries[:0]
	for _, e := range entries {
		if e.State == storage.OutboxQueued && !n.drain.Waiting(e.Envelope.ID) {
			continue // committed, about to be marked sent
		}
		out = append(out, e)
	}
	return out, nil
}

// drainOutbox is the outbox as the drainer sees it: Config.WrapOutbox
// lets crash-point tests hold "marking sent" back, so a crash lands after
// a commit and before the outbox records it, every time.
func (n *Node) drainOutbox() failover.Outbox {
	if n.cfg.WrapOutbox != nil {
		return n.cfg.WrapOutbox(n.outbox)
	}
	return n.outbox
}
