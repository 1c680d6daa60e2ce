package consensus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"concord/storage"
)

// ErrStalled is wrapped by the errors of proposals and barriers while this
// member cannot apply committed entries to its state store (a full disk, a
// failing file): they are committed, and will be applied when it resumes.
var ErrStalled = errors.New("applying committed entries is stalled")

// Stall says why and where applying stopped.
type Stall struct {
	At    uint64    // the first entry not applied: applying resumes here
	Err   error     // the store's error
	Since time.Time // when applying stopped
}

// Error is a sentence for the status, the window and the log.
func (s *Stall) Error() string {
	if nu := s.NeedsUpgrade(); nu != nil {
		return fmt.Sprintf("%v (log entry %d on waits for it)", nu, s.At)
	}
	return fmt.Sprintf("this member cannot store the team's messages from log entry %d on: %v", s.At, s.Err)
}

// NeedsUpgrade says whether applying stopped at an entry this member is too
// old to read (nil otherwise): upgrading it is the only way on.
func (s *Stall) NeedsUpgrade() *NeedsUpgradeError {
	var nu *NeedsUpgradeError
	if errors.As(s.Err, &nu) {
		return nu
	}
	return nil
}

// Unwrap makes a Stall match ErrStalled and the store's error.
func (s *Stall) Unwrap() []error { return []error{ErrStalled, s.Err} }

// Apply is all-or-stop. The first failed write stops the applier: nothing
// after it is written, so the store's applied index never passes an entry
// it does not hold (writing later batches would move it past the failed
// ones, and a restart would then skip them for good). Raft has handed the
// entries over and will not hand them again, but it keeps them in its log,
// because no snapshot is taken while stalled (barrier fails); so the
// applier retries by reading them back from the log, from the store's
// applied index on, until it has caught up with everything handed over.
// A restart resumes at the same entry.

// Retry intervals while stalled: quick at first (a transient failure),
// then every few seconds (waiting for someone to free disk space).
const (
	stallRetryMin = 100 * time.Millisecond
	stallRetryMax = 5 * time.Second
)

// retryTimer paces the applier's attempts to resume.
type retryTimer struct {
	t    *time.Timer
	wait time.Duration
}

func newRetry() *retryTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &retryTimer{t: t}
}

func (r *retryTimer) c() <-chan time.Time { return r.t.C }
func (r *retryTimer) stop()               { r.t.Stop() }

// again arms the timer with a doubled interval (the first at the minimum).
func (r *retryTimer) again() {
	r.wait = min(max(2*r.wait, stallRetryMin), stallRetryMax)
	r.t.Reset(r.wait)
}

func (r *retryTimer) reset() {
	r.t.Stop()
	r.wait = 0
}

// stop stalls the applier after a failed write.
func (f *fsm) stop(err error, retry *retryTimer) {
	st := &Stall{At: f.store.AppliedIndex() + 1, Err: err, Since: time.Now()}
	f.stall.Store(st)
	f.log.Error("cannot apply committed entries: stopped applying; will resume from this entry", "index", st.At, "err", err)
	f.onStall(st)
	retry.again()
}

// refuse completes a job that arrives while stalled without writing it.
// A barrier gets one more attempt to resume first.
func (f *fsm) refuse(job *applyJob, retry *retryTimer) {
	if job.entries == nil && f.resume(retry) {
		close(job.done)
		return
	}
	job.err = f.stall.Load()
	close(job.done)
}

// resume applies everything the store lacks up to the last entry handed
// over, reading it from the Raft log, and reports whether applying works
// again.
func (f *fsm) resume(retry *retryTimer) bool {
	st := f.stall.Load()
	err := f.catchUp()
	if err != nil {
		if st.Err.Error() != err.Error() {
			f.log.Warn("still cannot apply committed entries", "index", f.store.AppliedIndex()+1, "err", err)
		}
		f.stall.Store(&Stall{At: f.store.AppliedIndex() + 1, Err: err, Since: st.Since})
		retry.again()
		return false
	}
	retry.reset()
	f.stall.Store(nil)
	f.log.Info("applying committed entries again", "from", st.At, "to", f.seen, "stalled_for", time.Since(st.Since).Round(time.Millisecond))
	f.onStall(nil)
	f.onMembers()
	return true
}

// catchUp reopens the store after a failed Apply (a failed commit can leave
// bbolt's in-memory state behind its file) and applies the Raft log's entries from the
// store's applied index to f.seen, in bounded transactions.
func (f *fsm) catchUp() error {
	if f.store.Failed() != nil {
		if err := f.store.Reopen(); err != nil {
			return err
		}
	}
	return f.applyLog(f.store.AppliedIndex()+1, f.seen)
}

// applyLog applies the Raft log's entries [from, to], all committed, to
// the store in transactions of at most maxApplyEntries.
func (f *fsm) applyLog(from, to uint64) error {
	for lo := from; lo <= to; lo += maxApplyEntries {
		hi := min(lo+maxApplyEntries-1, to)
		entries, err := f.readLog(lo, hi)
		if len(entries) > 0 {
			if _, aerr := f.store.Apply(entries); aerr != nil {
				return fmt.Errorf("apply entries %d-%d: %w", lo, hi, aerr)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readLog reads entries [from, to] back from the Raft log as the store's
// entries. Entries that do not decode are skipped the same way ApplyBatch
// skips them, except one this member is too old to read: it returns what
// comes before it and a *NeedsUpgradeError.
func (f *fsm) readLog(from, to uint64) ([]storage.Entry, error) {
	entries := make([]storage.Entry, 0, to-from+1)
	for i := from; i <= to; i++ {
		var l raft.Log
		if err := f.logs.GetLog(i, &l); err != nil {
			return nil, fmt.Errorf("read raft log entry %d: %w", i, err)
		}
		e, _, err := f.entry(&l)
		if blocked := f.undecodable(l.Index, err); blocked != nil {
			return entries, blocked // stop before it, never skip it
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// entry decodes a Raft log entry into the store's form, and says whether it
// changes the team. An entry that is not a command carries no ops.
func (f *fsm) entry(l *raft.Log) (e storage.Entry, members bool, err error) {
	e.Index = l.Index
	if l.Type != raft.LogCommand {
		return e, false, nil
	}
	c, err := decodeCommand(l.Data)
	if err != nil {
		// A committed entry that does not decode was written by a newer
		// or broken member; every member skips it the same way.
		return e, false, err
	}
	e.CommittedAt, e.Ops = c.CommittedAt, c.Ops
	f.verify.check(e.Ops)
	for _, op := range c.Ops {
		if op.Kind == storage.OpSetTeamVersion && op.Refused == "" {
			f.noteRaise(op.Version)
		}
		members = members || op.Kind.ChangesTeam()
	}
	return e, members, nil
}

// Stall reports why this member cannot apply committed entries, or nil
// while it can.
func (r *Replica) Stall() *Stall { return r.fsm.stall.Load() }

// stalled is the applier's report (it logs it): the team hears of it
// through a leadership transfer, since a leader that cannot apply cannot
// answer its proposers; the member's Status reads Stall.
func (r *Replica) stalled(error) { r.nudgeReconcile() }

// standDown hands leadership to another voter while this member cannot
// apply: its proposers (and every member forwarding to it) would wait for
// results that never come. Its Raft log still works, so it keeps voting on
// the log it stores; a member that cannot append does not ack, and Raft
// leaves it out of the quorum by itself.
func (r *Replica) standDown(ctx context.Context) {
	st := r.Stall()
	if st == nil || r.raft.State() != raft.Leader {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.TransferLeadership(tctx); err != nil {
		r.log.Warn("cannot hand leadership over while applying is stalled", "err", err)
		return
	}
	r.log.Warn("handed leadership over: this member cannot apply committed entries", "index", st.At)
}

// undecodable judges a committed entry that did not decode (err, nil if it
// did): one written for a newer release blocks the applier there (the
// error is returned, naming the entry); any other is malformed, skipped by
// every member of this release alike, and logged.
func (f *fsm) undecodable(index uint64, err error) (blocked error) {
	var nu *NeedsUpgradeError
	switch {
	case errors.As(err, &nu):
		return fmt.Errorf("log entry %d: %w", index, err)
	case err != nil:
		f.log.Error("skipping undecodable entry", "index", index, "err", err)
	}
	return nil
}
