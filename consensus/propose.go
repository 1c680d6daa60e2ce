package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/storage"
)

// Submit commits op through whoever leads the team and returns its result
// and the index of the Raft entry that carried it. It retries through leader
// changes until ctx ends; retrying is safe because the FSM drops a message ID
// it has already applied. An error other than ErrRefused means the outcome is
// unknown: the op may or may not have committed.
func (r *Replica) Submit(ctx context.Context, op storage.Op) (storage.Result, uint64, error) {
	if op.Kind != storage.OpMessage && op.ID == "" {
		op.ID = newOpID() // every attempt carries the same ID
	}
	backoff := 10 * time.Millisecond
	var last error
	for {
		select {
		case <-r.done:
			return storage.Result{}, 0, ErrClosed
		default:
		}
		changed := r.leader.wait()
		var o outcome
		switch leader := r.Leader(); {
		case leader == r.cfg.Host.ID():
			o = r.local.submit(ctx, op)
		case leader != "":
			o = r.fwd.submit(ctx, op)
		default:
			o.err = ErrNoLeader
		}
		if o.err == nil {
			return o.res, o.index, nil
		}
		if errors.Is(o.err, ErrRefused) || errors.Is(o.err, ErrClosed) {
			return o.res, 0, o.err
		}
		if ctx.Err() != nil {
			return storage.Result{}, 0, fmt.Errorf("%w (last error: %v)", ctx.Err(), orErr(last, o.err))
		}
		last = o.err
		r.log.Debug("proposal not committed yet, retrying", "err", o.err)
		t := time.NewTimer(backoff)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		case <-r.done:
		}
		t.Stop()
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

func orErr(a, b error) error {
	if a != nil && (errors.Is(b, context.DeadlineExceeded) || errors.Is(b, context.Canceled)) {
		return a
	}
	return b
}

// errSignAgain refuses, for now, an op forwarded unsigned that would ride in
// a signed command (the team began signing meanwhile): its sender's retry
// sends it signed.
var errSignAgain = errors.New("consensus: the team signs its ops now; send it again, signed")

// startLocal appends a batch to the Raft log on this (leading) member. In a
// command written at protocol 4 or later this member signs its own ops.
func (r *Replica) startLocal(ctx context.Context, ops []storage.Op) waitFunc {
	tv := r.fsm.teamVersion()
	if proto, err := commandProto(tv, ops); err == nil && proto >= SignProtocol {
		if keep, where := r.ownOrSigned(ops); where != nil {
			return spread(len(ops), where, r.startSigned(ctx, keep, tv))
		}
	}
	return r.startSigned(ctx, ops, tv)
}

// ownOrSigned keeps the ops that are signed or this member's own; where
// (nil when every op is kept) gives each kept op's position in ops.
func (r *Replica) ownOrSigned(ops []storage.Op) (keep []storage.Op, where []int) {
	self := r.cfg.Host.ID().String()
	for i, op := range ops {
		if op.Sig == nil && op.Author() != self {
			if where == nil {
				keep = slices.Clone(ops[:i])
				where = make([]int, i)
				for j := range where {
					where[j] = j
				}
			}
			continue
		}
		if where != nil {
			keep = append(keep, op)
			where = append(where, i)
		}
	}
	if where == nil {
		return ops, nil
	}
	return keep, where
}

// spread maps the outcomes of the kept ops back to the n ops of a batch;
// the others are refused, for now, with errSignAgain.
func spread(n int, where []int, wait waitFunc) waitFunc {
	return func() []outcome {
		outs := make([]outcome, n)
		for i := range outs {
			outs[i].err = errSignAgain
		}
		for j, o := range wait() {
			outs[where[j]] = o
		}
		return outs
	}
}

func (r *Replica) startSigned(ctx context.Context, ops []storage.Op, tv int) waitFunc {
	if len(ops) == 0 {
		return func() []outcome { return nil }
	}
	if proto, err := commandProto(tv, ops); err == nil && proto >= SignProtocol {
		if err := r.sign.signUnsigned(ops); err != nil {
			return failAll(len(ops), err)
		}
		r.fsm.noteRaise(proto) // the batches after this one are written for it too
	}
	cmd, err := encodeCommand(command{CommittedAt: r.hlc.Stamp(), Ops: ops}, tv)
	if err != nil {
		return failAll(len(ops), err)
	}
	r.forge(tv)
	enqueue := flushTimeout
	if d, ok := ctx.Deadline(); ok {
		enqueue = time.Until(d)
	}
	f := r.raft.Apply(cmd, enqueue)
	return func() []outcome {
		if err := waitFuture(ctx, f); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				err = ErrNotLeader
			}
			return failAll(len(ops), err)()
		}
		p, ok := f.Response().(*pendingApply)
		if !ok {
			return failAll(len(ops), fmt.Errorf("unexpected apply response %T", f.Response()))()
		}
		outs := make([]outcome, len(ops))
		for i := range outs {
			outs[i].index = f.Index()
		}
		// Committed: the ops are durable. A message's outcome is known now
		// (its sender validated it, channels are never deleted, and a
		// duplicate is already stored; a sender that could not tell whether
		// the channel exists looks in its own store once it has applied
		// the entry); other ops report what applying them did, so wait for
		// the store.
		if !needsResult(ops) {
			return outs
		}
		r.fsm.hurry(f.Index())
		results, err := p.wait(ctx)
		if err != nil {
			return failAll(len(ops), fmt.Errorf("committed at index %d, not yet applied: %w", f.Index(), err))()
		}
		for i := range outs {
			outs[i].res = results[i]
		}
		return outs
	}
}

func needsResult(ops []storage.Op) bool {
	for _, op := range ops {
		if op.Kind != storage.OpMessage {
			return true
		}
	}
	return false
}

// WaitApplied waits until the local store has applied index, asking the
// applier not to hold it back.
func (r *Replica) WaitApplied(ctx context.Context, index uint64) error {
	if r.cfg.Store.AppliedIndex() >= index {
		return nil
	}
	r.fsm.hurry(index)
	return r.cfg.Store.WaitApplied(ctx, index)
}

// WaitAppliedLazily waits until the local store has applied index, letting
// the applier gather entries as usual.
func (r *Replica) WaitAppliedLazily(ctx context.Context, index uint64) error {
	return r.cfg.Store.WaitApplied(ctx, index)
}

// Handed is the highest index raft has handed to the state store. Raft
// never hands over its no-op and barrier entries, so the store's applied
// index can stay below the commit index; Handed is what it will reach.
func (r *Replica) Handed() uint64 { return r.fsm.handed.Load() }

// Settled reports whether everything this member knows to be committed is
// written to its store.
func (r *Replica) Settled() bool {
	applied, handed, stored := r.raft.AppliedIndex(), r.fsm.handed.Load(), r.cfg.Store.AppliedIndex()
	return applied >= r.raft.CommitIndex() && stored >= handed && r.nothingToHand(stored, applied)
}

// nothingToHand reports whether the log entries after the store's applied
// index, up to raft's, carry no command. Raft moves its applied index when
// it queues a batch for the FSM, before the FSM has it (a restarted member
// catching up shows thousands queued), and counts the entries it never
// hands over (no-ops, configurations): only those may lie between.
func (r *Replica) nothingToHand(stored, applied uint64) bool {
	if applied <= stored {
		return true
	}
	if applied-stored > 64 {
		return false
	}
	for i := stored + 1; i <= applied; i++ {
		var l raft.Log
		if err := r.logs.GetLog(i, &l); err != nil || l.Type == raft.LogCommand {
			return false
		}
	}
	return true
}

// FirstIndex is the oldest entry still in the Raft log: a member further
// behind than this catches up from a snapshot.
func (r *Replica) FirstIndex() uint64 {
	i, _ := r.logs.FirstIndex()
	return i
}

// CommitIndex is the highest log index this member knows to be committed.
func (r *Replica) CommitIndex() uint64 { return r.raft.CommitIndex() }

// Leader returns the current leader's peer ID, or "" when there is none.
func (r *Replica) Leader() peer.ID {
	_, id := r.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	if d := r.leaderID.Load(); d != nil && d.raw == id {
		return d.id
	}
	p, err := peer.Decode(string(id))
	if err != nil {
		return ""
	}
	r.leaderID.Store(&decodedID{raw: id, id: p})
	return p
}

// decodedID is a Raft server ID and the peer ID it encodes.
type decodedID struct {
	raw raft.ServerID
	id  peer.ID
}

// WaitLeader blocks until the team has a leader or ctx ends.
func (r *Replica) WaitLeader(ctx context.Context) (peer.ID, error) {
	for {
		ch := r.leader.wait()
		if l := r.Leader(); l != "" {
			return l, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Outcome is what a proposer learns about one op of a batch.
type Outcome struct {
	Index uint64 // the Raft entry that carried it, when committed
	Err   error  // nil: committed; ErrRefused: final; anything else: unknown, retry
}

// SubmitBatch commits ops in order through the current leader in one
// attempt (no retries: the caller, which keeps the ops durably, retries with
// the same IDs). Ops keep their order in the log.
func (r *Replica) SubmitBatch(ctx context.Context, ops []storage.Op) []Outcome {
	withIDs(ops)
	var outs []outcome
	switch leader := r.Leader(); {
	case leader == r.cfg.Host.ID():
		outs = r.local.submitAll(ctx, ops)
	case leader != "":
		outs = r.fwd.submitAll(ctx, ops)
	default:
		outs = failAll(len(ops), ErrNoLeader)()
	}
	res := make([]Outcome, len(outs))
	for i, o := range outs {
		res[i] = Outcome{Index: o.index, Err: o.err}
	}
	return res
}

// LeaderChanged returns a channel that is closed at the next leader change.
func (r *Replica) LeaderChanged() <-chan struct{} { return r.leader.wait() }

// AppendRaw appends data to the Raft log as a command exactly as given, on
// the leader, and returns its index once committed. Nothing checks or
// encodes it: tests and the chaos suite use it to put an entry that only a
// newer release reads into the log.
func (r *Replica) AppendRaw(ctx context.Context, data []byte) (uint64, error) {
	timeout := flushTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := r.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return 0, err
	}
	return f.Index(), nil
}

// FutureEntry is a command as a release newer than this one might write:
// the version 3 header naming release and protocol, then bytes this
// release cannot read. Tests and the chaos suite append it (AppendRaw) to
// show what a member does when the team moved on without it.
func FutureEntry(release string, protocol int) []byte {
	b := storage.AppendString([]byte{commandVersionV3}, release)
	b = binary.AppendUvarint(b, uint64(protocol))
	return append(b, 0xfe, 0xed)
}
