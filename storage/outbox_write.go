package storage

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Put appends e to the outbox as a queued entry and returns it once it is
// on disk. The envelope must pass ValidateEnvelope and have UTF-8 ID and
// author (errors wrap ErrInvalidEnvelope); an ID that already has an entry
// is ErrDuplicate. (An ID whose sent entry was trimmed can be put again: the
// replicated log deduplicates it.) now is the local queueing time.
func (o *Outbox) Put(e Envelope, now time.Time) (OutboxEntry, error) {
	if err := ValidateOutgoing(e); err != nil {
		return OutboxEntry{}, fmt.Errorf("storage: outbox put %q: %w", e.ID, err)
	}
	head := OutboxEntry{State: OutboxQueued, QueuedAt: now}
	rec := appendOutboxEnvelope(appendOutboxHeader(make([]byte, 0, outboxRecordSize(&head, &e)), &head), &e)
	// The entry returned is what a later Get will read (times in UTC at
	// nanosecond precision).
	out, err := decodeOutboxRecord(0, rec)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("storage: outbox put %q: %w: %v", e.ID, ErrInvalidEnvelope, err)
	}
	req := &putReq{id: e.ID, rec: rec, out: out, done: make(chan struct{})}
	o.putGroup(req)
	if req.err != nil {
		return OutboxEntry{}, fmt.Errorf("storage: outbox put %q: %w", e.ID, req.err)
	}
	return req.out, nil
}

// putOne writes one queued entry; a duplicate ID fails only its own Put.
func putOne(tx *bolt.Tx, d *outboxCounts, r *putReq) error {
	ids := outboxIDs(tx)
	if dup, err := ids.has([]byte(r.id)); dup || err != nil {
		return cmp.Or(err, ErrDuplicate)
	}
	meta := outboxMeta(tx)
	nv, err := meta.get(keyNextSeq)
	if err != nil {
		return err
	}
	seq, err := decodeUint64(nv, "outbox next seq")
	if err != nil {
		return err
	}
	if err := outboxEntries(tx).put(seqKey(seq), r.rec); err != nil {
		return err
	}
	if err := ids.put([]byte(r.id), seqKey(seq)); err != nil {
		return err
	}
	if err := meta.put(keyNextSeq, seqKey(seq+1)); err != nil {
		return err
	}
	r.out.Seq = seq
	d.queued++
	return nil
}

// ValidateOutgoing reports whether the outbox takes e: a message that
// passes ValidateEnvelope, or an action (ValidateAction) whose envelope
// does apart from a deletion's empty text. The binary record needs the ID
// and author to be UTF-8: an undecodable record would wedge the queue.
func ValidateOutgoing(e Envelope) error {
	if err := ValidateAction(e); err != nil {
		return err
	}
	if e.Action != nil && e.Action.Kind == OpDelete {
		e.Text = "-" // a deletion has no text; check the rest
	}
	if err := ValidateEnvelope(e); err != nil {
		return err
	}
	switch {
	case !utf8.ValidString(e.ID):
		return fmt.Errorf("%w: id is not valid UTF-8", ErrInvalidEnvelope)
	case !utf8.ValidString(e.Author):
		return fmt.Errorf("%w: author is not valid UTF-8", ErrInvalidEnvelope)
	}
	return nil
}

// Pending returns up to limit queued entries in Seq order, the order the
// drainer must propose them in; limit <= 0 means all. It reads only the
// state byte of entries that are not queued.
func (o *Outbox) Pending(limit int) ([]OutboxEntry, error) {
	out, err := o.scan(func(s OutboxState) bool { return s == OutboxQueued }, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: outbox pending: %w", err)
	}
	return out, nil
}

// List returns the entries in any of states (all entries if none is given),
// in Seq order.
func (o *Outbox) List(states ...OutboxState) ([]OutboxEntry, error) {
	for _, s := range states {
		if _, ok := s.code(); !ok {
			return nil, fmt.Errorf("storage: outbox list: unknown state %q", s)
		}
	}
	out, err := o.scan(func(s OutboxState) bool { return len(states) == 0 || slices.Contains(states, s) }, 0)
	if err != nil {
		return nil, fmt.Errorf("storage: outbox list: %w", err)
	}
	return out, nil
}

// scan returns the entries whose state match accepts, in Seq order, at most
// limit of them (limit <= 0: all).
func (o *Outbox) scan(match func(OutboxState) bool, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := o.view(func(tx *bolt.Tx) error {
		entries := outboxEntries(tx)
		c := entries.b.Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			v, err := entries.open(k, v)
			if err != nil {
				return err
			}
			s, err := outboxRecordState(v)
			if err != nil {
				return err
			}
			if !match(s) {
				continue
			}
			seq, err := decodeUint64(k, "outbox entry key")
			if err != nil {
				return err
			}
			e, err := decodeOutboxRecord(seq, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Get returns the entry for envelope ID id, or ErrNotFound.
func (o *Outbox) Get(id string) (OutboxEntry, error) {
	var e OutboxEntry
	err := o.view(func(tx *bolt.Tx) error {
		seq, v, err := lookupOutbox(tx, id)
		if err != nil {
			return err
		}
		e, err = decodeOutboxRecord(seq, v)
		return err
	})
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("storage: outbox get %q: %w", id, err)
	}
	return e, nil
}

// MarkSent records that the replicated log has the entries with these IDs,
// committed at Raft index index (0 if unknown) and seen at now (local
// clock), in one transaction. Unknown IDs (already trimmed, or never put
// here) are ignored; an entry already sent keeps its first SentAt and
// learns the index if it lacked one. A failed entry the log turns out to
// have becomes sent. Sent entries beyond KeepSent are then deleted, lowest
// Seq first. An empty ids costs nothing.
func (o *Outbox) MarkSent(ids []string, index uint64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := o.update(func(tx *bolt.Tx, d *outboxCounts) error {
		for _, id := range ids {
			_, err := editOutbox(tx, id, d, func(e *OutboxEntry) (bool, error) {
				if e.State == OutboxSent {
					if e.Index == 0 && index != 0 {
						e.Index = index
						return true, nil
					}
					return false, nil
				}
				e.State, e.SentAt, e.Index, e.Reason = OutboxSent, now, index, ""
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		// o.n is exact here: wmu keeps other writers out until their
		// counts are applied.
		if excess := o.n.sent + d.sent - o.keep; excess > 0 {
			n, err := trimSent(tx, excess)
			if err != nil {
				return err
			}
			d.sent -= n
			o.log.Debug("storage: outbox trimmed sent entries", "n", n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: outbox mark sent: %w", err)
	}
	return nil
}

// MarkFailed records that the entry with envelope ID id was refused for
// good (e.g. its channel does not exist), with reason shown to the user.
// The drainer skips it until Retry. It is ErrNotFound for an unknown ID and
// ErrAlreadySent for an entry already in the log; marking a failed entry
// again updates its reason.
func (o *Outbox) MarkFailed(id, reason string) error {
	reason = cleanReason(reason)
	err := o.update(func(tx *bolt.Tx, d *outboxCounts) error {
		found, err := editOutbox(tx, id, d, func(e *OutboxEntry) (bool, error) {
			if e.State == OutboxSent {
				return false, ErrAlreadySent
			}
			if e.State == OutboxFailed && e.Reason == reason {
				return false, nil
			}
			e.State, e.Reason = OutboxFailed, reason
			return true, nil
		})
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: outbox mark failed %q: %w", id, err)
	}
	return nil
}

// NoteAttempt records a failed delivery round for the queued entries with
// these IDs: Attempts is incremented and Reason set to the transient error.
// Unknown IDs and entries no longer queued are ignored. It rewrites only the
// small record header (the envelope bytes are copied, not decoded), in one
// transaction, and costs nothing when ids is empty.
func (o *Outbox) NoteAttempt(ids []string, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	reason = cleanReason(reason)
	err := o.update(func(tx *bolt.Tx, d *outboxCounts) error {
		for _, id := range ids {
			_, err := editOutbox(tx, id, d, func(e *OutboxEntry) (bool, error) {
				if e.State != OutboxQueued {
					return false, nil
				}
				if e.Attempts < maxAttempts {
					e.Attempts++
				}
				e.Reason = reason
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: outbox note attempt: %w", err)
	}
	return nil
}

// Retry puts a failed entry back in the queue (the user pressed retry) and
// wakes the drainer. The entry keeps its Seq, so it is proposed before
// entries queued after it; its Reason is cleared and Attempts kept. Retrying
// a queued entry does nothing; an unknown ID is ErrNotFound and a sent entry
// ErrAlreadySent.
func (o *Outbox) Retry(id string) error {
	err := o.update(func(tx *bolt.Tx, d *outboxCounts) error {
		found, err := editOutbox(tx, id, d, func(e *OutboxEntry) (bool, error) {
			switch e.State {
			case OutboxQueued:
				return false, nil
			case OutboxSent:
				return false, ErrAlreadySent
			}
			e.State, e.Reason = OutboxQueued, ""
			return true, nil
		})
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: outbox retry %q: %w", id, err)
	}
	return nil
}

// view runs fn in a read transaction.
func (o *Outbox) view(fn func(*bolt.Tx) error) error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.db == nil {
		return ErrClosed
	}
	return o.db.View(fn)
}

// update runs fn in one fsync'd write transaction. fn records in d how the
// counts change; they are applied only if the transaction commits, and an
// entry becoming queued wakes Notify.
func (o *Outbox) update(fn func(tx *bolt.Tx, d *outboxCounts) error) error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.db == nil {
		return ErrClosed
	}
	var d outboxCounts
	if err := o.db.Update(func(tx *bolt.Tx) error { return fn(tx, &d) }); err != nil {
		return err
	}
	o.cmu.Lock()
	defer o.cmu.Unlock()
	o.n.queued += d.queued
	o.n.failed += d.failed
	o.n.sent += d.sent
	if d.queued > 0 && !o.closed {
		close(o.wake)
		o.wake = make(chan struct{})
	}
	return nil
}

// lookupOutbox finds the record of envelope ID id. The value is only valid
// during tx.
func lookupOutbox(tx *bolt.Tx, id string) (uint64, []byte, error) {
	sk, err := outboxIDs(tx).get([]byte(id))
	if err != nil || sk == nil {
		return 0, nil, cmp.Or(err, ErrNotFound)
	}
	seq, err := decodeUint64(sk, "outbox id index")
	if err != nil {
		return 0, nil, err
	}
	v, err := outboxEntries(tx).get(sk)
	if err != nil {
		return 0, nil, err
	}
	if v == nil {
		return 0, nil, fmt.Errorf("%w: outbox id %q points at missing entry %d", ErrCorrupt, id, seq)
	}
	return seq, v, nil
}

// editOutbox lets edit change the header of the entry with envelope ID id
// and writes it back if edit says it changed, recording the state change in
// d. The envelope bytes are carried over without being decoded. found is
// false for an unknown ID.
func editOutbox(tx *bolt.Tx, id string, d *outboxCounts, edit func(*OutboxEntry) (bool, error)) (found bool, err error) {
	seq, v, err := lookupOutbox(tx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	e, env, err := splitOutboxRecord(seq, v)
	if err != nil {
		return true, err
	}
	before := e.State
	changed, err := edit(&e)
	if err != nil || !changed {
		return true, err
	}
	rec := appendOutboxHeader(make([]byte, 0, outboxHeaderSize(&e)+len(env)), &e)
	rec = append(rec, env...)
	if err := outboxEntries(tx).put(seqKey(seq), rec); err != nil {
		return true, err
	}
	d.move(before, e.State)
	return true, nil
}

// trimSent deletes up to n sent entries, lowest Seq first, and their ID
// index entries. It returns how many it deleted.
func trimSent(tx *bolt.Tx, n int) (int, error) {
	entries, ids := outboxEntries(tx), outboxIDs(tx)
	type victim struct {
		key []byte
		id  string
	}
	var vs []victim
	// Collect first: deleting under a bbolt cursor can skip keys.
	c := entries.b.Cursor()
	for k, v := c.First(); k != nil && len(vs) < n; k, v = c.Next() {
		v, err := entries.open(k, v)
		if err != nil {
			return 0, err
		}
		s, err := outboxRecordState(v)
		if err != nil {
			return 0, err
		}
		if s != OutboxSent {
			continue
		}
		seq, err := decodeUint64(k, "outbox entry key")
		if err != nil {
			return 0, err
		}
		_, env, err := splitOutboxRecord(seq, v)
		if err != nil {
			return 0, err
		}
		r := NewReader(env)
		id := r.String()
		if r.Err() != nil {
			return 0, fmt.Errorf("%w: outbox entry %d: envelope id: %v", ErrCorrupt, seq, r.Err())
		}
		vs = append(vs, victim{key: seqKey(seq), id: id})
	}
	for _, v := range vs {
		if err := entries.delete(v.key); err != nil {
			return 0, err
		}
		// Only drop the index entry if it points here.
		at, err := ids.get([]byte(v.id))
		if err != nil {
			return 0, err
		}
		if bytes.Equal(at, v.key) {
			if err := ids.delete([]byte(v.id)); err != nil {
				return 0, err
			}
		}
	}
	return len(vs), nil
}

// cleanReason makes a reason storable: valid UTF-8 (the codec requires it)
// and at most maxReasonBytes, cut at a character boundary.
func cleanReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
