package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// commitStep is the minimum distance between two commit times, so that
// commit times order messages strictly even when the leader's clock stalls
// or steps back.
const commitStep = time.Microsecond

// Apply applies committed entries, in order, in one write transaction (one
// fsync per batch). Entries at or below the stored applied index were applied
// before a restart and are skipped: their result slot is nil. Every other
// entry gets a slice with one Result per op (empty, not nil, for an entry
// without ops).
//
// An error means local storage failed; the transaction is rolled back and
// nothing of the batch is kept, so the caller must not treat any entry as
// applied. Applying is then all-or-stop: every later Apply fails with
// ErrApplyFailed until Reopen, so that no later batch can move the applied
// index past the entries that failed.
func (s *Store) Apply(entries []Entry) (_ [][]Result, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, ErrClosed
	}
	if p := s.failed.Load(); p != nil {
		return nil, fmt.Errorf("%w: %w", ErrApplyFailed, *p)
	}
	defer func() {
		if err != nil && !errors.Is(err, ErrClosed) {
			s.failed.CompareAndSwap(nil, &err)
		}
	}()
	var results [][]Result
	err = s.guard(func() (err error) {
		results, err = s.apply(entries)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// apply is Apply inside guard, holding s.mu.
func (s *Store) apply(entries []Entry) ([][]Result, error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("storage: apply: %w", err)
	}
	// Rollback after Commit is a harmless ErrTxClosed; this covers every
	// early return, and a panic unwinding through guard.
	defer func() { _ = tx.Rollback() }()

	a, err := newApplier(tx)
	if err != nil {
		return nil, fmt.Errorf("storage: apply: %w", err)
	}
	results := make([][]Result, len(entries))
	changed := false
	var ch *chainer
	for i, e := range entries {
		if e.Index <= a.st.applied {
			continue
		}
		if ch == nil {
			cs, err := readChain(a.meta, a.st.applied)
			if err != nil {
				return nil, fmt.Errorf("storage: apply: %w", err)
			}
			ch = newChainer(cs, a.st.applied)
		}
		res := make([]Result, len(e.Ops))
		for j, op := range e.Ops {
			if res[j], err = a.op(e, op); err != nil {
				return nil, fmt.Errorf("storage: apply entry %d op %d: %w", e.Index, j, err)
			}
			if err := a.keepSigned(e, j, op, res[j]); err != nil {
				return nil, fmt.Errorf("storage: apply entry %d op %d: signed history: %w", e.Index, j, err)
			}
		}
		results[i] = res
		ch.add(e, res)
		a.st.applied = e.Index
		changed = true
	}
	if !changed {
		// A pure replay: skip the commit and its fsync.
		return results, nil
	}
	if err := a.flush(); err != nil {
		return nil, fmt.Errorf("storage: apply: %w", err)
	}
	// Same transaction as the applied index, so the chain is always
	// current to it (readChain relies on that).
	if err := a.meta.put(keyDigests, encodeChain(ch.c)); err != nil {
		return nil, fmt.Errorf("storage: apply: digests: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storage: apply: commit: %w", err)
	}
	s.n.advance(a.st)
	return results, nil
}

// applier carries one Apply transaction. Channels touched by the batch are
// cached and written once at the end instead of once per message.
type applier struct {
	tx       *bolt.Tx
	st       metaState
	meta     bucket
	channels bucket
	members  bucket
	invites  bucket
	removed  bucket
	reacts   bucket
	changes  bucket
	opids    bucket
	ids      bucket
	messages bucket
	signed   bucket              // created by the first signed op (signed.go)
	chans    map[string]*Channel // nil value: known not to exist
	dirty    map[string]bool     // channels to write back in flush
}

func newApplier(tx *bolt.Tx) (*applier, error) {
	st, err := readMeta(tx)
	if err != nil {
		return nil, err
	}
	a := &applier{
		tx:    tx,
		st:    st,
		chans: make(map[string]*Channel),
		dirty: make(map[string]bool),
	}
	for _, f := range []struct {
		b    *bucket
		name []byte
	}{
		{&a.meta, bucketMeta}, {&a.channels, bucketChannels}, {&a.members, bucketMembers},
		{&a.invites, bucketInvites}, {&a.removed, bucketRemoved}, {&a.reacts, bucketReactions},
		{&a.changes, bucketChanges}, {&a.opids, bucketOpIDs}, {&a.ids, bucketIDs}, {&a.messages, bucketMessages},
	} {
		if *f.b, err = topBucket(tx, f.name); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// op applies one op. Refusals are returned as Result.Err; the error return is
// for storage failures only. A signed op (protocol 4) of any kind but a
// message is applied once per ID, so that a replayed copy of it (a leader
// committing an old signed op again) changes nothing.
func (a *applier) op(e Entry, op Op) (Result, error) {
	if op.Refused != "" {
		return Result{Err: op.Refused}, nil
	}
	if op.Sig == nil && a.st.teamVersion >= SignedTeamVersion {
		return Result{Err: RefusedUnsigned}, nil
	}
	if op.Sig != nil && op.Kind != OpMessage && !onceKinds(op.Kind) {
		return a.once(op, func() (Result, error) { return a.do(e, op) })
	}
	return a.do(e, op)
}

// onceKinds are the kinds that are applied once per ID even unsigned.
func onceKinds(k OpKind) bool { return k == OpEdit || k == OpDelete || k == OpReact }

func (a *applier) do(e Entry, op Op) (Result, error) {
	switch op.Kind {
	case OpMessage:
		return a.message(e, op.Message)
	case OpCreateChannel:
		if msg, err := a.mayCreateChannel(op); msg != "" || err != nil {
			return Result{Err: msg}, err
		}
		return a.createChannel(e, op)
	case OpAddMember:
		return a.addMember(e, op)
	case OpRemoveMember:
		return a.removeMember(e, op)
	case OpSetRole:
		return a.setRole(op)
	case OpInvite:
		return a.invite(op)
	case OpEdit:
		return a.once(op, func() (Result, error) { return a.edit(e, op) })
	case OpDelete:
		return a.once(op, func() (Result, error) { return a.delete(op) })
	case OpReact:
		return a.once(op, func() (Result, error) { return a.react(op) })
	case OpSetTeamVersion:
		return a.setTeamVersion(op)
	case OpPin:
		return a.pin(op)
	default:
		return Result{Err: fmt.Sprintf("unknown op kind %d", op.Kind)}, nil
	}
}

// commitTime gives the next commit time: the leader's stamp, pushed forward
// if needed to stay strictly after the previous one. Only derived from the
// entry and stored state, so every replica computes the same value.
func (a *applier) commitTime(e Entry) time.Time {
	t := e.CommittedAt.UTC() // drops location and monotonic reading
	if floor := a.st.lastCommit.Add(commitStep); t.Before(floor) {
		t = floor
	}
	a.st.lastCommit = t
	return t
}

func (a *applier) message(e Entry, env *Envelope) (Result, error) {
	if env == nil {
		return Result{Err: ErrInvalidEnvelope.Error() + ": missing"}, nil
	}
	if err := ValidateEnvelope(*env); err != nil {
		return Result{Err: err.Error()}, nil
	}
	v, err := a.ids.get([]byte(env.ID))
	if err != nil {
		return Result{}, err
	}
	if v != nil && dedup {
		name, seq, err := decodeIDValue(v)
		if err != nil {
			return Result{}, err
		}
		m, err := getMessage(a.messages, name, seq)
		if err != nil {
			return Result{}, fmt.Errorf("id %q: %w", env.ID, err)
		}
		return Result{Dup: true, Seq: seq, Channel: name, CommittedAt: m.CommittedAt}, nil
	}
	ch, err := a.channel(env.Channel)
	if err != nil {
		return Result{}, err
	}
	if ch == nil {
		return Result{Err: ErrUnknownChannel.Error()}, nil
	}
	b, ok := a.messages.sub(ch.Name)
	if !ok {
		return Result{}, fmt.Errorf("%w: channel %q has no message bucket", ErrCorrupt, ch.Name)
	}
	m := Message{Envelope: *env, Seq: ch.Messages + 1, CommittedAt: a.commitTime(e), Index: e.Index}
	// Seqs only grow: full pages waste no space and split less.
	b.b.FillPercent = 0.95
	v = AppendMessage(make([]byte, 0, messageSize(&m)+sumSize), &m)
	if err := b.put(seqKey(m.Seq), v); err != nil {
		return Result{}, err
	}
	if err := a.ids.put([]byte(env.ID), idValue(ch.Name, m.Seq)); err != nil {
		return Result{}, err
	}
	ch.Messages = m.Seq
	a.dirty[ch.Name] = true
	return Result{Seq: m.Seq, Channel: ch.Name, CommittedAt: m.CommittedAt}, nil
}

func (a *applier) createChannel(e Entry, op Op) (Result, error) {
	name := op.Channel
	if err := ValidChannelName(name); err != nil {
		return Result{Err: err.Error()}, nil
	}
	ch, err := a.channel(name)
	if err != nil {
		return Result{}, err
	}
	if ch != nil {
		return Result{Channel: name, Err: ErrChannelExists.Error()}, nil
	}
	if _, err := a.messages.b.CreateBucket([]byte(name)); err != nil {
		// The channel record is missing but its messages are not.
		if errors.Is(err, berrors.ErrBucketExists) {
			return Result{}, fmt.Errorf("%w: orphan message bucket %q", ErrCorrupt, name)
		}
		return Result{}, err
	}
	ch = &Channel{Name: name, CreatedAt: a.commitTime(e), Members: slices.Clone(op.Participants)}
	a.chans[name] = ch
	a.dirty[name] = true
	return Result{Channel: name, CommittedAt: ch.CreatedAt}, nil
}

// channel returns the channel named name, nil if it does not exist.
func (a *applier) channel(name string) (*Channel, error) {
	if ch, ok := a.chans[name]; ok {
		return ch, nil
	}
	var ch *Channel
	v, err := a.channels.get([]byte(name))
	if err != nil {
		return nil, err
	}
	if v != nil {
		ch = new(Channel)
		if err := decodeJSON(v, ch, "channel "+name); err != nil {
			return nil, err
		}
	}
	a.chans[name] = ch
	return ch, nil
}

// flush writes the touched channels and the new meta state.
func (a *applier) flush() error {
	// Sorted so the write pattern, like everything else here, does not
	// depend on map order.
	for _, name := range slices.Sorted(maps.Keys(a.dirty)) {
		v, err := json.Marshal(a.chans[name])
		if err != nil {
			return fmt.Errorf("encode channel: %w", err)
		}
		if err := a.channels.put([]byte(name), v); err != nil {
			return err
		}
	}
	if err := a.meta.put(keyApplied, seqKey(a.st.applied)); err != nil {
		return err
	}
	lc, err := encodeTime(a.st.lastCommit)
	if err != nil {
		return err
	}
	return a.meta.put(keyLastCommit, lc)
}
