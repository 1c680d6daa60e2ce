package consensus

import (
	"sync"

	"github.com/hashicorp/raft"
)

// commitPush tells followers the leader's commit index as soon as it
// advances, instead of leaving them to learn it from the next
// AppendEntries.
//
// hashicorp/raft sends a follower the commit index only with the next
// AppendEntries: new entries, or, when there are none, one sent after
// CommitTimeout. With a small CommitTimeout followers learn commits
// quickly, but an idle leader then sends every follower an AppendEntries
// every few milliseconds, which is most of what an idle team costs
// (issue 23). So CommitTimeout is long, and when the leader's commit index
// passes what a follower was last told, commitPush sends that follower an
// AppendEntries with no entries on raft's own pipeline to it: the term and
// the last entry the follower acknowledged (index and term, which the
// follower checks like any AppendEntries) and the commit index, never
// above that entry. By Raft's log matching that is exactly what a leader
// may send at any time; the follower answers it as usual and commitPush
// keeps the answer from raft, which did not ask.
//
// It learns the term, the follower's acknowledged entry and the commit
// index a follower was told from the AppendEntries raft sends through the
// wrapped transport and their answers, and the commit index from the local
// FSM (committed) and raft. Pushes only go on a pipeline raft has open,
// which is only a leader's and only to a follower that is caught up.
type commitPush struct {
	mu      sync.Mutex
	pipes   map[*drainedPipeline]struct{}
	commit  uint64               // highest index known committed
	indexFn func() uint64        // raft's commit index, once raft runs
	wake    chan struct{}        // commit advanced
	done    chan struct{}        // closed by close
	wg      sync.WaitGroup       // the push goroutine and its pushes
	ack     map[raft.ServerID]ae // per follower: its last acknowledged entry
}

// ae is what a follower acknowledged in a term.
type ae struct {
	term, index, logTerm uint64
}

func newCommitPush() *commitPush {
	p := &commitPush{pipes: map[*drainedPipeline]struct{}{}, ack: map[raft.ServerID]ae{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.wg.Add(1)
	go p.run()
	return p
}

// close stops the push goroutine; later commits are not pushed.
func (p *commitPush) close() {
	p.mu.Lock()
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// setIndex gives commitPush raft's commit index, read at every push.
func (p *commitPush) setIndex(f func() uint64) {
	p.mu.Lock()
	p.indexFn = f
	p.mu.Unlock()
}

// committed says index is committed (the FSM was handed it).
func (p *commitPush) committed(index uint64) {
	p.mu.Lock()
	if index <= p.commit || len(p.pipes) == 0 {
		p.commit = max(p.commit, index)
		p.mu.Unlock()
		return
	}
	p.commit = index
	p.mu.Unlock()
	p.poke()
}

// answered notes the answer to an AppendEntries sent to id.
func (p *commitPush) answered(id raft.ServerID, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) {
	if resp == nil || !resp.Success || resp.Term != req.Term {
		return
	}
	a := ae{term: req.Term, index: req.PrevLogEntry, logTerm: req.PrevLogTerm}
	if n := len(req.Entries); n > 0 {
		a.index, a.logTerm = req.Entries[n-1].Index, req.Entries[n-1].Term
	}
	p.mu.Lock()
	old, ok := p.ack[id]
	newer := !ok || a.term > old.term || a.term == old.term && a.index > old.index
	if newer {
		p.ack[id] = a
	}
	// A follower that acknowledges after the entry was committed (by the
	// others' answers) still has to be told.
	behind := newer && p.commit > old.index && len(p.pipes) > 0
	p.mu.Unlock()
	if behind {
		p.poke()
	}
}

func (p *commitPush) open(d *drainedPipeline) {
	p.mu.Lock()
	p.pipes[d] = struct{}{}
	p.mu.Unlock()
}

func (p *commitPush) closed(d *drainedPipeline) {
	p.mu.Lock()
	delete(p.pipes, d)
	p.mu.Unlock()
}

func (p *commitPush) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.wake:
		}
		p.mu.Lock()
		commit := p.commit
		if p.indexFn != nil {
			commit = max(commit, p.indexFn())
		}
		type push struct {
			pipe *drainedPipeline
			a    ae
		}
		var todo []push
		for d := range p.pipes {
			if a, ok := p.ack[d.id]; ok {
				todo = append(todo, push{d, a})
			}
		}
		p.mu.Unlock()
		for _, t := range todo {
			// One push at a time per follower, each in its own goroutine:
			// a follower that stopped reading blocks sends on its pipeline
			// (up to raft's I/O timeout), and must not hold up the others'.
			if min(commit, t.a.index) <= t.pipe.told.Load() || !t.pipe.pushing.CompareAndSwap(false, true) {
				continue
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				sent := t.pipe.pushCommit(t.a, commit)
				t.pipe.pushing.Store(false)
				if sent {
					p.poke() // the commit may have moved on meanwhile
				}
			}()
		}
	}
}

// poke wakes the push goroutine.
func (p *commitPush) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pushCommit sends the follower the commit index (at most what it
// acknowledged) unless it was told as much already or a is from another
// term than raft's last AppendEntries on this pipeline, and says whether
// it sent it.
func (d *drainedPipeline) pushCommit(a ae, commit uint64) bool {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	c := min(commit, a.index)
	if c <= d.told.Load() || a.term != d.term || d.header == nil {
		return false
	}
	req := &raft.AppendEntriesRequest{RPCHeader: *d.header, Term: a.term, Leader: d.leader,
		PrevLogEntry: a.index, PrevLogTerm: a.logTerm, LeaderCommitIndex: c}
	d.pushed.Store(req, struct{}{})
	if _, err := d.AppendPipeline.AppendEntries(req, &raft.AppendEntriesResponse{}); err != nil {
		d.pushed.Delete(req)
		return false // raft finds out from its own next send
	}
	d.told.Store(c)
	return true
}
