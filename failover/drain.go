package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"concord/storage"
)

// Outbox is what the drainer needs of the member's durable outbox
// (storage.Outbox).
type Outbox interface {
	Pending(limit int) ([]storage.OutboxEntry, error)
	MarkSent(ids []string, index uint64, now time.Time) error
	MarkFailed(id, reason string) error
	NoteAttempt(ids []string, reason string) error
}

// Proposer commits envelopes, in order, through whoever leads the team.
type Proposer interface {
	// Propose makes one attempt at committing envs in order.
	Propose(ctx context.Context, envs []storage.Envelope) []Outcome
	// WaitApplied returns once the local store has applied index (without
	// hurrying it: marking sent is not urgent).
	WaitApplied(ctx context.Context, index uint64) error
	// LeaderChanged is closed at the next leader change.
	LeaderChanged() <-chan struct{}
}

// Outcome is the fate of one proposed envelope.
type Outcome struct {
	Index uint64 // the log entry that carried it, when committed
	Err   error  // nil: committed
	Final bool   // Err is a refusal that a retry cannot change
}

// ErrRefused wraps a final refusal handed to a waiting sender.
var ErrRefused = errors.New("failover: message refused")

// DrainConfig configures a Drainer.
type DrainConfig struct {
	Outbox   Outbox
	Proposer Proposer
	Clock    func() time.Time
	Logger   *slog.Logger
	// Batch is how many queued messages one attempt proposes (default 512).
	Batch int
	// Round bounds one attempt (default 5 s); what it does not settle is
	// retried with the same IDs.
	Round time.Duration
	// MaxBackoff caps the wait between failed attempts (default 1 s); a
	// leader change cuts the wait short.
	MaxBackoff time.Duration
	// MarkDelay is how long committed messages are gathered before they are
	// marked sent in one outbox write (default 50 ms). Until then they are
	// committed but still in the outbox; a crash in between re-proposes them
	// and the log drops the duplicates.
	MarkDelay time.Duration
}

// Validate reports a configuration that cannot work.
func (c *DrainConfig) Validate() error {
	if c.Outbox == nil || c.Proposer == nil {
		return errors.New("failover: DrainConfig needs an Outbox and a Proposer")
	}
	return nil
}

func (c *DrainConfig) setDefaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Batch <= 0 {
		c.Batch = 512
	}
	if c.Round <= 0 {
		c.Round = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Second
	}
	if c.MarkDelay <= 0 {
		c.MarkDelay = 50 * time.Millisecond
	}
}

// Drainer delivers the outbox: it proposes queued messages in order,
// retries what is not settled with the same IDs (the replicated log drops
// IDs it already has, so delivery is exactly-once), and marks a message
// sent once the local store has applied it.
//
// Messages enter through Add as well as through the durable outbox: a sender
// adds its message to the drainer's in-memory queue while it writes it to
// the outbox, so the proposal overlaps the fsync. The in-memory queue is
// FIFO and each attempt proposes a prefix of it, which keeps every member's
// messages in the order they were sent.
type Drainer struct {
	cfg DrainConfig
	log *slog.Logger

	mu    sync.Mutex
	queue []*Ticket
	ids   map[string]*Ticket
	wake  chan struct{} // closed when the queue gains entries

	marks chan mark // committed batches to mark sent

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Ticket follows one message through the drainer.
type Ticket struct {
	env     storage.Envelope
	stored  chan struct{} // closed when the outbox holds it (or never will)
	putErr  error
	settled chan struct{} // closed when committed or refused
	index   uint64
	err     error
}

// ID is the message's ID.
func (t *Ticket) ID() string { return t.env.ID }

// Stored reports that the outbox write finished (err is its error).
func (t *Ticket) Stored(err error) {
	t.putErr = err
	close(t.stored)
}

// Wait returns the log index once the message is committed, a final
// refusal (wrapping ErrRefused), or ctx's error while it is still queued.
func (t *Ticket) Wait(ctx context.Context) (uint64, error) {
	select {
	case <-t.settled:
		return t.index, t.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

type mark struct {
	tickets []*Ticket
	index   uint64
}

// NewDrainer returns a drainer; Start runs it.
func NewDrainer(cfg DrainConfig) (*Drainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Drainer{cfg: cfg, log: cfg.Logger.With("component", "drain"), ids: map[string]*Ticket{},
		wake: make(chan struct{}), marks: make(chan mark, 64)}, nil
}

// Start loads what the outbox still holds from earlier runs and starts
// draining.
func (d *Drainer) Start() error {
	pending, err := d.cfg.Outbox.Pending(0)
	if err != nil {
		return fmt.Errorf("failover: load outbox: %w", err)
	}
	for _, e := range pending {
		t := d.newTicket(e.Envelope)
		close(t.stored)
		d.enqueue(t)
	}
	if len(pending) > 0 {
		d.log.Info("resuming outbox", "queued", len(pending))
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.run(ctx) }()
	go func() { defer d.wg.Done(); d.markLoop(ctx) }()
	return nil
}

// Close stops the drainer and waits for its goroutines. What is queued
// stays in the outbox for the next start.
func (d *Drainer) Close() error {
	d.closeOnce.Do(func() {
		if d.cancel != nil {
			d.cancel()
		}
		d.wg.Wait()
	})
	return nil
}

func (d *Drainer) newTicket(env storage.Envelope) *Ticket {
	return &Ticket{env: env, stored: make(chan struct{}), settled: make(chan struct{})}
}

// Add queues env for delivery; the caller writes it to the outbox and then
// calls Ticket.Stored.
func (d *Drainer) Add(env storage.Envelope) *Ticket {
	t := d.newTicket(env)
	d.enqueue(t)
	return t
}

func (d *Drainer) enqueue(t *Ticket) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.ids[t.env.ID]; dup {
		return
	}
	d.ids[t.env.ID] = t
	d.queue = append(d.queue, t)
	close(d.wake)
	d.wake = make(chan struct{})
}

// Waiting reports whether the message with this ID is still waiting to be
// committed (the outbox may still list a committed message for a moment,
// until it is marked sent).
func (d *Drainer) Waiting(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.ids[id]
	return ok
}

// Queued is the number of messages not yet committed.
func (d *Drainer) Queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

func (d *Drainer) run(ctx context.Context) {
	backoff := 20 * time.Millisecond
	last := 0 // size of the previous round
	for {
		d.fill(ctx, last)
		d.mu.Lock()
		wake := d.wake
		batch := append([]*Ticket(nil), d.queue[:min(len(d.queue), d.cfg.Batch)]...)
		d.mu.Unlock()
		last = len(batch)
		if len(batch) == 0 {
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		changed := d.cfg.Proposer.LeaderChanged()
		if failed := d.attempt(ctx, batch); failed == nil {
			backoff = 20 * time.Millisecond
			continue
		} else if ctx.Err() != nil {
			return
		} else {
			d.log.Debug("outbox not drained yet, retrying", "queued", d.Queued(), "err", failed)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, d.cfg.MaxBackoff)
	}
}

// fillWait bounds how long a round waits for senders to come back.
const fillWait = time.Millisecond

// fill lets a round fill up when the previous one was large: the senders it
// released are about to queue their next messages, and one round in flight
// at a time (which keeps each member's messages in order) should carry them
// together rather than one by one.
func (d *Drainer) fill(ctx context.Context, last int) {
	if last < 8 {
		return
	}
	deadline := time.NewTimer(fillWait)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		n, wake := len(d.queue), d.wake
		d.mu.Unlock()
		if n >= last/2 || n >= d.cfg.Batch {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// attempt proposes batch once and settles what it can; it returns the
// first transient error, if any.
func (d *Drainer) attempt(ctx context.Context, batch []*Ticket) error {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Round)
	defer cancel()
	envs := make([]storage.Envelope, len(batch))
	for i, t := range batch {
		envs[i] = t.env
	}
	outs := d.cfg.Proposer.Propose(rctx, envs)
	var done []*Ticket
	var index uint64
	var transient error
	var retry []string
	for i, o := range outs {
		t := batch[i]
		switch {
		case o.Err == nil:
			t.index = o.Index
			done = append(done, t)
			index = max(index, o.Index)
		case o.Final:
			t.err = fmt.Errorf("%w: %v", ErrRefused, o.Err)
			d.refuse(t, o.Err)
		default:
			if transient == nil {
				transient = o.Err
			}
			retry = append(retry, t.env.ID)
		}
	}
	if len(done) > 0 {
		d.settle(done)
		select {
		case d.marks <- mark{tickets: done, index: index}:
		case <-ctx.Done():
		}
	}
	if transient != nil {
		// Durable entries only; one fsync'd note per round at most.
		if err := d.cfg.Outbox.NoteAttempt(retry, transient.Error()); err != nil && ctx.Err() == nil {
			d.log.Warn("note outbox attempt", "err", err)
		}
	}
	return transient
}

// settle removes committed tickets from the queue and wakes their senders.
func (d *Drainer) settle(done []*Ticket) {
	gone := make(map[*Ticket]bool, len(done))
	for _, t := range done {
		gone[t] = true
	}
	d.mu.Lock()
	q := d.queue[:0]
	for _, t := range d.queue {
		if gone[t] {
			delete(d.ids, t.env.ID)
			continue
		}
		q = append(q, t)
	}
	clear(d.queue[len(q):])
	d.queue = q
	d.mu.Unlock()
	for _, t := range done {
		close(t.settled)
	}
}

func (d *Drainer) refuse(t *Ticket, reason error) {
	d.log.Warn("message refused", "id", t.env.ID, "err", reason)
	<-t.stored
	if t.putErr == nil {
		if err := d.cfg.Outbox.MarkFailed(t.env.ID, reason.Error()); err != nil {
			d.log.Warn("mark outbox entry failed", "id", t.env.ID, "err", err)
		}
	}
	d.settle([]*Ticket{t})
}

// markLoop marks committed messages sent once the local store has applied
// them (and their outbox write has finished), merging what is waiting.
func (d *Drainer) markLoop(ctx context.Context) {
	for {
		var m mark
		select {
		case m = <-d.marks:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(d.cfg.MarkDelay)
	more:
		for len(m.tickets) < 4*d.cfg.Batch {
			select {
			case n := <-d.marks:
				m.tickets = append(m.tickets, n.tickets...)
				m.index = max(m.index, n.index)
			case <-t.C:
				break more
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		t.Stop()
		if err := d.cfg.Proposer.WaitApplied(ctx, m.index); err != nil {
			return // stopping: the entries stay queued and are re-proposed (deduplicated) next start
		}
		ids := make([]string, 0, len(m.tickets))
		for _, t := range m.tickets {
			select {
			case <-t.stored:
			case <-ctx.Done():
				return
			}
			if t.putErr == nil {
				ids = append(ids, t.env.ID)
			}
		}
		if err := d.cfg.Outbox.MarkSent(ids, m.index, d.cfg.Clock()); err != nil {
			d.log.Warn("mark outbox entries sent", "err", err)
		}
	}
}
