package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"concord/storage"
)

// fsm applies committed Raft entries to the member's persistent chat state.
//
// Raft hands it committed entries (ApplyBatch); it queues them for its own
// applier goroutine and returns at once, so a proposer learns "committed"
// as soon as a majority has the entry in its log — which is what makes a
// message durable — without waiting for the state store's fsync. The applier
// writes everything queued in one bbolt transaction (one fsync), which under
// load also merges many entries into one commit. Readers that need to see
// what was committed wait for the store's applied index (read-your-writes).
//
// Crash safety: the store records its applied index in the same transaction
// as the state, and raft keeps log entries after its last snapshot, which
// is only taken once the queue is drained; a restart replays what the store
// had not yet written. Apply never reads a clock or the network.
type fsm struct {
	verify *verifier // checks signed ops before they are applied
	// raised is the highest team version a raise committed or proposed
	// here asks for, known before the store applies it (teamVersion).
	raised    atomic.Int64
	store     *storage.Store
	logs      raft.LogStore // re-read after a stall: the entries not applied
	log       *slog.Logger
	onStall   func(error) // applying stopped (err) or resumed (nil)
	onMembers func()      // a member op was applied
	// onHanded is told the last index of every batch raft hands over
	// (committed); set before raft starts, may be nil.
	onHanded func(index uint64)

	stall atomic.Pointer[Stall] // nil while applying works
	// restoreErr is why the last snapshot could not be installed (nil
	// once one is).
	restoreErr atomic.Pointer[error]
	// seen is the last index of every job the applier took off the queue
	// (applier goroutine only): after a stall, everything up to it is read
	// back from the Raft log.
	seen uint64
	// lastWrite is when the applier last finished writing and lastTook
	// how long that write took (applier goroutine only).
	lastWrite time.Time
	lastTook  time.Duration

	queue  chan *applyJob
	want   atomic.Uint64 // highest index a reader is waiting for
	handed atomic.Uint64 // highest index raft has handed over
	urgent chan struct{} // a reader started waiting
	wg     sync.WaitGroup
}

var _ raft.BatchingFSM = (*fsm)(nil)

// applyQueue bounds how far the store may lag behind raft before raft's FSM
// goroutine waits (backpressure).
const applyQueue = 256

// applyDelay bounds how long the applier waits between two writes while
// entries keep coming. After a write it waits as long as that write took
// (at most applyDelay) before the next: the applier then keeps the disk at
// most about half the time, and under load one fsync'd transaction covers
// many entries, which leaves the disk to the Raft log (on the commit path).
// An entry that arrives when the applier has waited that long already is
// written at once, so a member that is not busy shows a message as soon as
// it learns it is committed (issue 23: a fixed wait of applyDelay from the
// first entry made every follower show every message ~10 ms late). A
// reader that waits (WaitApplied) or a snapshot cuts the wait short.
// Measured earlier with a fixed wait (make bench): 2 ms gave p50 0.87 ms at
// C=1 and 1.5x the baseline at C=256; 10 ms gave 0.73 ms and 2.0x.
const applyDelay = 10 * time.Millisecond

// maxApplyEntries caps the entries written in one transaction.
const maxApplyEntries = 4096

// applyJob is one ApplyBatch call (or a barrier when entries is nil).
type applyJob struct {
	entries []storage.Entry
	members bool // contains a member op
	done    chan struct{}
	results [][]storage.Result
	err     error
	blocked error // an entry this member is too old to read (*NeedsUpgradeError)
}

// pendingApply is the Response of a local ApplyFuture: the entry is
// committed; its results arrive when the applier has written it.
type pendingApply struct {
	job *applyJob
	i   int
	err error // the entry itself did not decode
}

// wait returns the entry's results once the store has applied it.
func (p *pendingApply) wait(ctx context.Context) ([]storage.Result, error) {
	if p.err != nil {
		return nil, p.err
	}
	select {
	case <-p.job.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p.job.err != nil {
		return nil, p.job.err
	}
	return p.job.results[p.i], nil
}

func newFSM(team string, store *storage.Store, logs raft.LogStore, log *slog.Logger, onStall func(error), onMembers func()) *fsm {
	f := &fsm{verify: newVerifier(team), store: store, logs: logs, log: log, onStall: onStall, onMembers: onMembers,
		queue: make(chan *applyJob, applyQueue), urgent: make(chan struct{}, 1)}
	f.wg.Add(1)
	go f.applier()
	return f
}

// close stops the applier after it has written everything queued. Raft must
// be shut down first so that nothing more is queued.
func (f *fsm) close() {
	close(f.queue)
	f.wg.Wait()
}

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	job := &applyJob{entries: make([]storage.Entry, len(logs)), done: make(chan struct{})}
	out := make([]any, len(logs))
	// Entries the store already holds (Raft replays its log after a
	// restart) are skipped by the store: not decoding them saves the
	// garbage of a whole log's worth of messages at start.
	applied := f.store.AppliedIndex()
	for i, l := range logs {
		p := &pendingApply{job: job, i: i}
		out[i] = p
		if l.Index <= applied {
			job.entries[i] = storage.Entry{Index: l.Index}
			continue
		}
		var members bool
		job.entries[i], members, p.err = f.entry(l)
		if blocked := f.undecodable(l.Index, p.err); blocked != nil && job.blocked == nil {
			job.blocked = blocked
		}
		job.members = job.members || members
	}
	f.queue <- job
	last := logs[len(logs)-1].Index
	f.handed.Store(last)
	if f.onHanded != nil {
		f.onHanded(last)
	}
	return out
}

// applier writes queued jobs in one transaction: at once after an idle
// spell, else merging what arrives until it has rested as long as its last
// write took, at most applyDelay (or at once when a reader waits). While applying is
// stalled it writes nothing (see stall.go) and retries from the Raft log.
func (f *fsm) applier() {
	defer f.wg.Done()
	retry := newRetry()
	defer retry.stop()
	for {
		if f.stall.Load() != nil {
			select {
			case job, ok := <-f.queue:
				if !ok {
					return
				}
				f.note(job)
				f.refuse(job, retry)
			case <-retry.c():
				f.resume(retry)
			}
			continue
		}
		job, ok := <-f.queue
		if !ok {
			return
		}
		f.note(job)
		jobs := []*applyJob{job}
		n := len(job.entries)
		var timer *time.Timer
	gather:
		for !f.ready(jobs, n) {
			if timer == nil {
				wait := min(applyDelay, f.lastTook) - time.Since(f.lastWrite)
				if wait <= 0 {
					// Idle until now: write what is queued already at once.
					jobs, n = f.takeQueued(jobs, n)
					break gather
				}
				timer = time.NewTimer(wait)
			}
			select {
			case j, ok := <-f.queue:
				if !ok {
					break gather
				}
				f.note(j)
				jobs = append(jobs, j)
				n += len(j.entries)
			case <-f.urgent:
			case <-timer.C:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		began := time.Now()
		err := f.write(jobs)
		f.lastWrite = time.Now()
		f.lastTook = f.lastWrite.Sub(began)
		if err != nil {
			f.stop(err, retry)
		}
	}
}

// takeQueued adds the jobs queued right now to jobs, up to
// maxApplyEntries entries, without waiting for more.
func (f *fsm) takeQueued(jobs []*applyJob, n int) ([]*applyJob, int) {
	for n < maxApplyEntries {
		select {
		case j, ok := <-f.queue:
			if !ok {
				return jobs, n
			}
			f.note(j)
			jobs = append(jobs, j)
			n += len(j.entries)
		default:
			return jobs, n
		}
	}
	return jobs, n
}

// note records the last index of a job taken off the queue.
func (f *fsm) note(j *applyJob) {
	if n := len(j.entries); n > 0 {
		f.seen = max(f.seen, j.entries[n-1].Index)
	}
}

// ready says whether the gathered jobs must be written now.
func (f *fsm) ready(jobs []*applyJob, n int) bool {
	last := jobs[len(jobs)-1]
	if last.entries == nil || n >= maxApplyEntries { // a barrier, or enough
		return true
	}
	for _, j := range jobs {
		if len(j.entries) > 0 {
			return j.entries[0].Index <= f.want.Load()
		}
	}
	return false
}

// hurry tells the applier that a reader waits for index.
func (f *fsm) hurry(index uint64) {
	for {
		cur := f.want.Load()
		if index <= cur || f.want.CompareAndSwap(cur, index) {
			break
		}
	}
	select {
	case f.urgent <- struct{}{}:
	default:
	}
}

// write applies the gathered jobs in one transaction. On failure nothing
// of them was kept and every job learns the error.
func (f *fsm) write(jobs []*applyJob) error {
	for _, j := range jobs {
		if err := j.blocked; err != nil {
			// Nothing of the gathered jobs is written: the applier
			// stalls, and resuming applies what comes before the entry
			// from the Raft log and stops at it (readLog).
			for _, j := range jobs {
				j.err = err
				close(j.done)
			}
			return err
		}
	}
	var entries []storage.Entry
	members := false
	for _, j := range jobs {
		entries = append(entries, j.entries...)
		members = members || j.members
	}
	var results [][]storage.Result
	var err error
	if len(entries) > 0 {
		results, err = f.store.Apply(entries)
	}
	if err != nil {
		err = fmt.Errorf("apply entries %d-%d: %w", entries[0].Index, entries[len(entries)-1].Index, err)
	} else {
		f.logRefusals(entries, results)
	}
	k := 0
	for _, j := range jobs {
		if err != nil {
			j.err = err
		} else {
			j.results = results[k : k+len(j.entries)]
		}
		k += len(j.entries)
		close(j.done)
	}
	if members && err == nil {
		f.onMembers()
	}
	return err
}

// logRefusals reports committed messages the store refused: the leader
// validates messages before proposing them, and their senders check the
// channel, so this means a bug, a member that does not, or a message
// queued for a channel its sender could not check (no leader to ask),
// which its sender then shows as refused.
func (f *fsm) logRefusals(entries []storage.Entry, results [][]storage.Result) {
	for i, e := range entries {
		for j, res := range results[i] {
			if op := e.Ops[j]; op.Refused != "" {
				f.log.Warn("committed op refused: "+op.Refused, "index", e.Index, "op", j, "kind", op.Kind, "for", op.Author(), "signer", op.Sig.Signer)
				continue
			}
			if res.Err != "" && e.Ops[j].Kind == storage.OpMessage {
				f.log.Warn("committed message refused", "index", e.Index, "id", e.Ops[j].Message.ID, "err", res.Err)
			}
		}
	}
}

// barrier waits until everything queued so far is written. Raft calls
// Snapshot and Restore from its FSM goroutine, the only one that queues, so
// nothing can be queued meanwhile. While applying is stalled the barrier
// first tries to resume, and fails if it cannot: a snapshot then is not
// taken, so the Raft log keeps the entries the store still lacks.
func (f *fsm) barrier() error {
	job := &applyJob{done: make(chan struct{})}
	f.queue <- job
	<-job.done
	return job.err
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.barrier(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s, err := f.store.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &fsmSnapshot{s: s}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.barrier(); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := f.store.Restore(rc); err != nil {
		err = fmt.Errorf("%w: install: %w", ErrSnapshotWrite, err)
		f.restoreErr.Store(&err)
		return err
	}
	f.restoreErr.Store(nil)
	f.onMembers()
	return nil
}

// fsmSnapshot streams the store's read transaction into raft's sink.
type fsmSnapshot struct{ s *storage.Snapshot }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.s.WriteTo(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.s.Release() }

// noteRaise records a raise to v, committed or proposed by this member.
func (f *fsm) noteRaise(v int) {
	for {
		cur := f.raised.Load()
		if int64(v) <= cur || f.raised.CompareAndSwap(cur, int64(v)) {
			return
		}
	}
}

// teamVersion is the team version to write commands for: the applied one,
// or a raise this member has proposed or seen committed but not applied
// yet. Writing at the applied version until then would put unsigned ops
// after a raise to a signing version, and every member refuses those.
func (f *fsm) teamVersion() int {
	return max(f.store.TeamVersion(), int(f.raised.Load()))
}
