package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

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
// binary refuses a newer file instead of misreading it. Version 2 added the
// checksum state.db's values carry (record.go) to every value but the
// schema version itself; OpenOutbox migrates a version 1 file.
const (
	outboxSchemaVersion = 2
	outboxSchemaV1      = 1
)

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
	grew    chan struct{} // closed when pending gains a Put (pmu; nil when nobody waits)
	last    int           // Puts the previous flush wrote (flushMu)
	// gatherWait and gatherGap bound how long a busy flush waits for more
	// Puts (outbox_group.go).
	gatherWait, gatherGap time.Duration

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
	o := &Outbox{cfg: cfg, log: cfg.logger(), keep: cfg.keepSent(), wake: make(chan struct{}),
		gatherWait: gatherWait, gatherGap: gatherGap}
	db, err := openBolt(cfg.Path, DefaultLockTimeout, false, true)
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
	v := meta.Get(keyOutboxSchema)
	if v == nil {
		if err := meta.Put(keyOutboxSchema, seqKey(outboxSchemaVersion)); err != nil {
			return err
		}
		return outboxMeta(tx).put(keyNextSeq, seqKey(1))
	}
	ver, err := decodeUint64(v, "outbox schema version")
	if err != nil {
		return err
	}
	switch {
	case ver == outboxSchemaV1:
		return sealOutbox(tx)
	case ver > outboxSchemaVersion:
		return fmt.Errorf("%w: outbox schema version %d, this binary reads %d", ErrNewerSchema, ver, outboxSchemaVersion)
	case ver != outboxSchemaVersion:
		return fmt.Errorf("%w: outbox schema version %d, this binary reads %d", ErrCorrupt, ver, outboxSchemaVersion)
	}
	return nil
}

// The outbox's buckets, their values sealed (record.go).
func outboxMeta(tx *bolt.Tx) bucket {
	return newBucket(tx.Bucket(bucketOutboxMeta), string(bucketOutboxMeta))
}

func outboxEntries(tx *bolt.Tx) bucket {
	return newBucket(tx.Bucket(bucketOutboxEntries), string(bucketOutboxEntries))
}

func outboxIDs(tx *bolt.Tx) bucket {
	return newBucket(tx.Bucket(bucketOutboxIDs), string(bucketOutboxIDs))
}

// sealOutbox migrates a version 1 outbox to version 2: it adds a checksum
// to every value, in the transaction that opens the file (an outbox holds
// what is queued and the last KeepSent sent messages: small).
func sealOutbox(tx *bolt.Tx) error {
	for _, b := range []bucket{outboxEntries(tx), outboxIDs(tx)} {
		type kv struct{ k, v []byte }
		var all []kv
		err := b.b.ForEach(func(k, v []byte) error {
			all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range all {
			if err := b.put(r.k, r.v); err != nil {
				return err
			}
		}
	}
	meta := outboxMeta(tx)
	next := meta.b.Get(keyNextSeq)
	if next == nil {
		return fmt.Errorf("%w: outbox has no next seq", ErrCorrupt)
	}
	if err := meta.put(keyNextSeq, bytes.Clone(next)); err != nil {
		return err
	}
	return meta.b.Put(keyOutboxSchema, seqKey(outboxSchemaVersion))
}

// scanOutbox decodes every entry, so damage is found at open rather than in
// the middle of a drain, and counts them by state.
func scanOutbox(tx *bolt.Tx) (outboxCounts, error) {
	var n outboxCounts
	nv, err := outboxMeta(tx).get(keyNextSeq)
	if err != nil {
		return n, err
	}
	next, err := decodeUint64(nv, "outbox next seq")
	if err != nil {
		return n, err
	}
	err = outboxEntries(tx).forEach(func(k, v []byte) error {
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
