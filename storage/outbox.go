package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// The outbox is the durable queue between a member's Send and the replicated
// log. Send writes the envelope here (fsync'd) and returns its ID; from then
// on the message survives a crash of the app. A drainer proposes queued
// entries in Seq order, retries them with the same ID (the log deduplicates
// by ID) and marks them sent once the log has them.
//
// The outbox is local to a member and not replicated, so it lives in its own
// bbolt file beside state.db (which a snapshot restore replaces wholesale).
// Layout:
//
//	outbox_meta  outbox_schema -> 8-byte schema version, next_seq -> 8-byte next Seq
//	entries      8-byte big-endian Seq -> binary record (see appendOutboxHeader)
//	ids          envelope ID -> 8-byte big-endian Seq
//
// The meta bucket is deliberately not called "meta": a state.db has a "meta"
// bucket and no "outbox_meta", an outbox.db the reverse, so each file is
// refused (ErrCorrupt) by the other's opener instead of being mixed into.

// OutboxFileName is the outbox's file name inside the data directory; the
// caller passes filepath.Join(dataDir, OutboxFileName) as OutboxConfig.Path.
const OutboxFileName = "outbox.db"

// DefaultOutboxKeepSent is how many sent entries the outbox keeps for display
// when OutboxConfig.KeepSent is 0.
const DefaultOutboxKeepSent = 1000

// Outbox errors, in addition to ErrNotFound, ErrClosed, ErrCorrupt, ErrLocked
// and ErrInvalidEnvelope.
var (
	// ErrDuplicate is returned by Outbox.Put for an envelope ID that already
	// has an entry in the outbox.
	ErrDuplicate = errors.New("duplicate id")

	// ErrAlreadySent is returned by Outbox.MarkFailed and Outbox.Retry for an
	// entry that is already in the replicated log: it can be neither refused
	// nor sent again.
	ErrAlreadySent = errors.New("outbox entry already sent")
)

// OutboxState is where an outbox entry is in its life.
type OutboxState string

// States of an outbox entry. Queued entries are waiting for the drainer;
// Put and Retry make them, MarkSent and MarkFailed end them.
const (
	OutboxQueued OutboxState = "queued"
	OutboxSent   OutboxState = "sent"
	OutboxFailed OutboxState = "failed"
)

// OutboxEntry is one message in the outbox.
type OutboxEntry struct {
	Seq      uint64      `json:"seq"` // local order, assigned at Put (monotonic, never reused)
	Envelope Envelope    `json:"envelope"`
	State    OutboxState `json:"state"`
	Reason   string      `json:"reason,omitempty"` // why it failed, or the last transient error while queued
	Attempts int         `json:"attempts"`
	QueuedAt time.Time   `json:"queued_at"`
	SentAt   time.Time   `json:"sent_at,omitzero"` // when it was marked sent (local clock, passed in)
	Index    uint64      `json:"index,omitempty"`  // raft index it committed at, when known
}

// OutboxConfig says where the outbox lives and how it reports.
type OutboxConfig struct {
	// Path is the bbolt file, normally DATA/outbox.db (see OutboxFileName);
	// it is created if missing.
	Path string
	// Logger receives operational logs; nil means slog.Default().
	Logger *slog.Logger
	// KeepSent is how many sent entries are kept for display (the newest by
	// Seq); older ones are deleted by MarkSent. 0 means
	// DefaultOutboxKeepSent.
	KeepSent int
}

// Validate reports whether the config can be used by OpenOutbox.
func (c OutboxConfig) Validate() error {
	if c.Path == "" {
		return errors.New("storage: outbox config: empty Path")
	}
	if c.KeepSent < 0 {
		return fmt.Errorf("storage: outbox config: negative KeepSent %d", c.KeepSent)
	}
	return nil
}

func (c OutboxConfig) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

func (c OutboxConfig) keepSent() int {
	if c.KeepSent == 0 {
		return DefaultOutboxKeepSent
	}
	return c.KeepSent
}

// Bucket names and meta keys of the outbox file. They are the on-disk
// format: never rename.
var (
	bucketOutboxMeta    = []byte("outbox_meta")
	bucketOutboxEntries = []byte("entries")
	bucketOutboxIDs     = []byte("ids")

	keyOutboxSchema = []byte("outbox_schema")
	keyNextSeq      = []byte("next_seq")
)

// outboxSchemaVersion is bumped on incompatible layout changes so an old
// binary refuses a newer file instead of misreading it.
const outboxSchemaVersion = 1

// maxReasonBytes bounds a stored reason so that a verbose error cannot bloat
// the record rewritten on every retry round.
const maxReasonBytes = 1024

// maxAttempts caps the attempt counter; a stored value above it is damage.
const maxAttempts = math.MaxInt32

// Outbox is a member's durable queue of messages not yet in the replicated
// log. All methods are safe for concurrent use. Every mutation is one
// fsync'd bbolt transaction.
type Outbox struct {
	cfg  OutboxConfig
	log  *slog.Logger
	keep int

	// wmu serializes writers (bbolt does too) so that the in-memory
	// counters are exact inside a write transaction, which trimming needs.
	wmu sync.Mutex

	// mu guards the db pointer, which Close clears. Every transaction holds
	// it shared.
	mu sync.RWMutex
	db *bolt.DB

	// flushMu is held by the Put that writes the pending group; pmu guards
	// the group.
	flushMu sync.Mutex
	pmu     sync.Mutex
	pending []*putReq

	// cmu guards the counters and the notify channel.
	cmu    sync.Mutex
	n      outboxCounts
	closed bool
	wake   chan struct{}
}

// outboxCounts is the number of entries in each state (or a change of it).
type outboxCounts struct {
	queued, failed, sent int
}

func (c *outboxCounts) add(s OutboxState, d int) {
	switch s {
	case OutboxQueued:
		c.queued += d
	case OutboxFailed:
		c.failed += d
	case OutboxSent:
		c.sent += d
	}
}

// move records an entry changing state from one to another.
func (c *outboxCounts) move(from, to OutboxState) {
	if from != to {
		c.add(from, -1)
		c.add(to, +1)
	}
}

// OpenOutbox opens the outbox at cfg.Path, creating the file and its buckets
// if needed. Like Open, it fails with ErrLocked if another process has the
// file open and with ErrCorrupt if the file is not a concord outbox (this
// includes a state.db). Sent entries beyond cfg.KeepSent are trimmed.
func OpenOutbox(cfg OutboxConfig) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Outbox{cfg: cfg, log: cfg.logger(), keep: cfg.keepSent(), wake: make(chan struct{})}
	db, err := openBolt(cfg.Path, DefaultLockTimeout, false)
	if err != nil {
		return nil, fmt.Errorf("storage: outbox: %w", err)
	}
	var n outboxCounts
	var trimmed int
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initOutbox(tx); err != nil {
			return err
		}
		if n, err = scanOutbox(tx); err != nil {
			return err
		}
		if excess := n.sent - o.keep; excess > 0 {
			if trimmed, err = trimSent(tx, excess); err != nil {
				return err
			}
			n.sent -= trimmed
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: open outbox %s: %w", cfg.Path, err)
	}
	o.db, o.n = db, n
	o.log.Info("storage: outbox opened", "path", cfg.Path,
		"queued", n.queued, "failed", n.failed, "sent", n.sent, "trimmed", trimmed)
	return o, nil
}

// initOutbox makes sure the layout exists and is ours.
func initOutbox(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketOutboxMeta)
	if meta == nil || meta.Get(keyOutboxSchema) == nil {
		// Buckets without our marker are some other file (a state.db, or
		// another program's): refuse rather than mix our buckets into it.
		if k, _ := tx.Cursor().First(); k != nil {
			return fmt.Errorf("%w: not a concord outbox (has bucket %q, no outbox schema)", ErrCorrupt, k)
		}
	}
	for _, name := range [][]byte{bucketOutboxMeta, bucketOutboxEntries, bucketOutboxIDs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta = tx.Bucket(bucketOutboxMeta)
	if v := meta.Get(keyOutboxSchema); v == nil {
		if err := meta.Put(keyOutboxSchema, seqKey(outboxSchemaVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyNextSeq, seqKey(1)); err != nil {
			return err
		}
	} else {
		ver, err := decodeUint64(v, "outbox schema version")
		if err != nil {
			return err
		}
		if ver != outboxSchemaVersion {
			return fmt.Errorf("%w: outbox schema version %d, this binary reads %d", ErrCorrupt, ver, outboxSchemaVersion)
		}
	}
	return nil
}

// scanOutbox decodes every entry, so damage is found at open rather than in
// the middle of a drain, and counts them by state.
func scanOutbox(tx *bolt.Tx) (outboxCounts, error) {
	var n outboxCounts
	next, err := decodeUint64(tx.Bucket(bucketOutboxMeta).Get(keyNextSeq), "outbox next seq")
	if err != nil {
		return n, err
	}
	err = tx.Bucket(bucketOutboxEntries).ForEach(func(k, v []byte) error {
		seq, err := decodeUint64(k, "outbox entry key")
		if err != nil {
			return err
		}
		if seq >= next {
			return fmt.Errorf("%w: outbox entry %d at or past next seq %d", ErrCorrupt, seq, next)
		}
		e, err := decodeOutboxRecord(seq, v)
		if err != nil {
			return err
		}
		n.add(e.State, 1)
		return nil
	})
	return n, err
}

// Close closes the outbox file and wakes Notify waiters; afterwards every
// method returns ErrClosed and Notify returns a closed channel, so a drainer
// blocked on it wakes, sees ErrClosed and stops. Calling it again is a no-op.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil
	}
	err := o.db.Close()
	o.db = nil
	o.cmu.Lock()
	o.closed = true
	close(o.wake)
	o.cmu.Unlock()
	if err != nil {
		return fmt.Errorf("storage: close outbox %s: %w", o.cfg.Path, err)
	}
	return nil
}

// Notify returns a channel that is closed the next time an entry becomes
// queued (Put or Retry) or the outbox is closed. Grab it before calling
// Pending so that nothing queued in between is missed:
//
//	for {
//		wake := o.Notify()
//		entries, err := o.Pending(0) // stop on ErrClosed
//		...
//		<-wake
//	}
func (o *Outbox) Notify() <-chan struct{} {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	return o.wake
}

// Counts returns the number of queued and failed entries, from counters kept
// in memory (loaded at open), so it is cheap enough for a status line. After
// Close it returns the last counts.
func (o *Outbox) Counts() (queued, failed int) {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	return o.n.queued, o.n.failed
}

// Put appends e to the outbox as a queued entry and returns it once it is
// on disk. The envelope must pass ValidateEnvelope and have UTF-8 ID and
// author (errors wrap ErrInvalidEnvelope); an ID that already has an entry
// is ErrDuplicate. (An ID whose sent entry was trimmed can be put again: the
// replicated log deduplicates it.) now is the local queueing time.
func (o *Outbox) Put(e Envelope, now time.Time) (OutboxEntry, error) {
	if err := validateOutboxEnvelope(e); err != nil {
		return OutboxEntry{}, fmt.Errorf("storage: outbox put %q: %w", e.ID, err)
	}
	head := OutboxEntry{State: OutboxQueued, QueuedAt: now}
	rec := AppendEnvelope(appendOutboxHeader(make([]byte, 0, outboxRecordSize(&head, &e)), &head), &e)
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

// putReq is one Put waiting to be written.
type putReq struct {
	id   string
	rec  []byte
	out  OutboxEntry
	err  error
	done chan struct{}
}

// putGroup is the outbox's group commit: concurrent Puts are written by
// whichever of them gets the flush lock first, in one fsync'd transaction,
// so many senders share an fsync while a lone sender waits for nobody.
func (o *Outbox) putGroup(req *putReq) {
	o.pmu.Lock()
	o.pending = append(o.pending, req)
	o.pmu.Unlock()
	o.flushMu.Lock()
	defer o.flushMu.Unlock()
	select {
	case <-req.done: // an earlier flusher wrote it
		return
	default:
	}
	o.pmu.Lock()
	batch := o.pending
	o.pending = nil
	o.pmu.Unlock()
	err := o.update(func(tx *bolt.Tx, d *outboxCounts) error {
		for _, r := range batch {
			r.err = putOne(tx, d, r)
		}
		return nil
	})
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// putOne writes one queued entry; a duplicate ID fails only its own Put.
func putOne(tx *bolt.Tx, d *outboxCounts, r *putReq) error {
	ids := tx.Bucket(bucketOutboxIDs)
	if ids.Get([]byte(r.id)) != nil {
		return ErrDuplicate
	}
	meta := tx.Bucket(bucketOutboxMeta)
	seq, err := decodeUint64(meta.Get(keyNextSeq), "outbox next seq")
	if err != nil {
		return err
	}
	key := seqKey(seq)
	if err := tx.Bucket(bucketOutboxEntries).Put(key, r.rec); err != nil {
		return err
	}
	if err := ids.Put([]byte(r.id), key); err != nil {
		return err
	}
	if err := meta.Put(keyNextSeq, seqKey(seq+1)); err != nil {
		return err
	}
	r.out.Seq = seq
	d.queued++
	return nil
}

// validateOutboxEnvelope is ValidateEnvelope plus what the binary record
// needs: ValidateEnvelope does not require the ID and author to be UTF-8,
// but the codec does, and an undecodable record would wedge the queue.
func validateOutboxEnvelope(e Envelope) error {
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
		c := tx.Bucket(bucketOutboxEntries).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
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
	sk := tx.Bucket(bucketOutboxIDs).Get([]byte(id))
	if sk == nil {
		return 0, nil, ErrNotFound
	}
	seq, err := decodeUint64(sk, "outbox id index")
	if err != nil {
		return 0, nil, err
	}
	v := tx.Bucket(bucketOutboxEntries).Get(sk)
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
	if err := tx.Bucket(bucketOutboxEntries).Put(seqKey(seq), rec); err != nil {
		return true, err
	}
	d.move(before, e.State)
	return true, nil
}

// trimSent deletes up to n sent entries, lowest Seq first, and their ID
// index entries. It returns how many it deleted.
func trimSent(tx *bolt.Tx, n int) (int, error) {
	entries, ids := tx.Bucket(bucketOutboxEntries), tx.Bucket(bucketOutboxIDs)
	type victim struct {
		key []byte
		id  string
	}
	var vs []victim
	// Collect first: deleting under a bbolt cursor can skip keys.
	c := entries.Cursor()
	for k, v := c.First(); k != nil && len(vs) < n; k, v = c.Next() {
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
		if err := entries.Delete(v.key); err != nil {
			return 0, err
		}
		// Only drop the index entry if it points here.
		if bytes.Equal(ids.Get([]byte(v.id)), v.key) {
			if err := ids.Delete([]byte(v.id)); err != nil {
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

// The outbox record, in the binary form of binary.go:
//
//	record = byte version (1), byte state (1 queued, 2 sent, 3 failed),
//	         uvarint attempts, string reason, time queued_at, time sent_at,
//	         uvarint index, envelope
//
// The Seq is the key, not part of the record. The mutable fields come first
// so a state change rewrites the header and copies the envelope bytes as
// they are.
const outboxRecordVersion = 1

// Record codes of the states; on disk, never renumber.
const (
	outboxCodeQueued byte = 1
	outboxCodeSent   byte = 2
	outboxCodeFailed byte = 3
)

func (s OutboxState) code() (byte, bool) {
	switch s {
	case OutboxQueued:
		return outboxCodeQueued, true
	case OutboxSent:
		return outboxCodeSent, true
	case OutboxFailed:
		return outboxCodeFailed, true
	}
	return 0, false
}

func outboxStateOf(c byte) (OutboxState, bool) {
	switch c {
	case outboxCodeQueued:
		return OutboxQueued, true
	case outboxCodeSent:
		return OutboxSent, true
	case outboxCodeFailed:
		return OutboxFailed, true
	}
	return "", false
}

// outboxHeaderSize is an upper bound of the header's binary size.
func outboxHeaderSize(e *OutboxEntry) int {
	return 2 + len(e.Reason) + 5*binary.MaxVarintLen64
}

// outboxRecordSize is an upper bound of a whole record's binary size.
func outboxRecordSize(e *OutboxEntry, env *Envelope) int {
	return outboxHeaderSize(e) + len(env.ID) + len(env.Author) + len(env.Channel) + len(env.Text) +
		5*binary.MaxVarintLen64
}

// appendOutboxHeader appends the record fields of e that precede the
// envelope. An invalid state is written as queued; callers only use the
// constants.
func appendOutboxHeader(b []byte, e *OutboxEntry) []byte {
	code, ok := e.State.code()
	if !ok {
		code = outboxCodeQueued
	}
	b = append(b, outboxRecordVersion, code)
	b = binary.AppendUvarint(b, uint64(max(e.Attempts, 0)))
	b = AppendString(b, e.Reason)
	b = AppendTime(b, e.QueuedAt)
	b = AppendTime(b, e.SentAt)
	return binary.AppendUvarint(b, e.Index)
}

// outboxRecordState reads just the state of a record, for scans that skip
// most entries.
func outboxRecordState(b []byte) (OutboxState, error) {
	if len(b) < 2 {
		return "", fmt.Errorf("%w: outbox record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != outboxRecordVersion {
		return "", fmt.Errorf("%w: outbox record version %d", ErrCorrupt, b[0])
	}
	s, ok := outboxStateOf(b[1])
	if !ok {
		return "", fmt.Errorf("%w: outbox record state %d", ErrCorrupt, b[1])
	}
	return s, nil
}

// splitOutboxRecord decodes the header of a record into an entry (without
// its envelope) and returns the envelope bytes that follow, aliasing b.
func splitOutboxRecord(seq uint64, b []byte) (OutboxEntry, []byte, error) {
	s, err := outboxRecordState(b)
	if err != nil {
		return OutboxEntry{}, nil, fmt.Errorf("entry %d: %w", seq, err)
	}
	r := NewReader(b[2:])
	attempts := r.Uvarint()
	e := OutboxEntry{Seq: seq, State: s, Reason: r.String(), QueuedAt: r.Time(), SentAt: r.Time(), Index: r.Uvarint()}
	if r.Err() != nil {
		return OutboxEntry{}, nil, fmt.Errorf("%w: outbox entry %d: %v", ErrCorrupt, seq, r.Err())
	}
	if attempts > maxAttempts {
		return OutboxEntry{}, nil, fmt.Errorf("%w: outbox entry %d: %d attempts", ErrCorrupt, seq, attempts)
	}
	e.Attempts = int(attempts)
	return e, b[len(b)-r.Len():], nil
}

// decodeOutboxRecord decodes a whole stored record; only this package writes
// them, so a failure means a damaged file (ErrCorrupt).
func decodeOutboxRecord(seq uint64, b []byte) (OutboxEntry, error) {
	e, env, err := splitOutboxRecord(seq, b)
	if err != nil {
		return OutboxEntry{}, err
	}
	r := NewReader(env)
	e.Envelope = r.Envelope()
	if r.Err() != nil {
		return OutboxEntry{}, fmt.Errorf("%w: outbox entry %d: envelope: %v", ErrCorrupt, seq, r.Err())
	}
	if r.Len() != 0 {
		return OutboxEntry{}, fmt.Errorf("%w: outbox entry %d has %d trailing bytes", ErrCorrupt, seq, r.Len())
	}
	return e, nil
}
