package consensus

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// drainedTransport is the Raft transport with its replication pipeline
// kept from deadlocking.
//
// hashicorp/raft v1.8.0's pipeline can deadlock (grafana/pyroscope#5518):
// with MaxRPCsInFlight at its default of 2 both of netPipeline's channels
// are unbuffered. After a follower answers Success=false, raft stops
// reading the pipeline's responses (pipelineDecode returns) while its send
// loop may still send one more AppendEntries: that send waits for the
// response decoder, which waits for someone to take the response it holds.
// The follower then gets heartbeats but never another entry until the
// leader changes, and the leader's Shutdown waits forever. Here it showed
// as an in-process test team hanging in Close about one run in 13, after a
// follower restarted while the leader committed.
//
// Turning the pipeline off (one AppendEntries at a time, each on a new
// libp2p stream) cost 4x the C=1 commit latency in BenchmarkCommitRounds,
// so the pipeline stays, and its responses are always taken: a goroutine
// moves them to a buffered channel that raft reads, and drops those that
// come after raft stopped reading (raft then replicates from the
// follower's next index anyway).
//
// It also carries commitPush's pushes (commitpush.go) and shows it what
// raft sends and hears back; push is nil where nothing is pushed.
type drainedTransport struct {
	*raft.NetworkTransport
	push  *commitPush
	pacer *heartbeatPacer // nil: heartbeats as raft sends them
}

func (t drainedTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	d := &drainedPipeline{AppendPipeline: p, out: make(chan raft.AppendFuture, pipelineBuffer), done: make(chan struct{}),
		id: id, push: t.push}
	go d.drain()
	if t.push != nil {
		t.push.open(d)
	}
	return d, nil
}

// AppendEntries is raft's AppendEntries outside the pipeline (heartbeats,
// paced by heartbeatPacer, and entries to a follower that is behind);
// commitPush learns what it acknowledged.
func (t drainedTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if t.pacer != nil && isHeartbeat(args) {
		t.pacer.wait(id)
	}
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil && t.push != nil {
		t.push.answered(id, args, resp)
	}
	return err
}

// pipelineBuffer is far more responses than the pipeline keeps in flight
// (2), so none is dropped while raft reads them.
const pipelineBuffer = 64

type drainedPipeline struct {
	raft.AppendPipeline
	out       chan raft.AppendFuture
	done      chan struct{}
	closeOnce sync.Once

	id   raft.ServerID
	push *commitPush // nil: no pushes
	// pushed holds the requests commitPush sent, whose answers raft
	// must not see.
	pushed sync.Map

	// sendMu serialises raft's sends and commitPush's: the pipeline is
	// not safe for concurrent use.
	sendMu sync.Mutex
	term   uint64          // of raft's last AppendEntries here
	header *raft.RPCHeader // of raft's last AppendEntries here
	leader []byte          // of raft's last AppendEntries here
	// told is the highest commit index sent here (written under sendMu);
	// pushing is set while commitPush sends here.
	told    atomic.Uint64
	pushing atomic.Bool
}

// AppendEntries sends raft's request, noting its term and the commit index
// it tells the follower.
func (d *drainedPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	if d.push != nil {
		h := args.RPCHeader
		d.header, d.term, d.leader = &h, args.Term, args.Leader
		if args.LeaderCommitIndex > d.told.Load() {
			d.told.Store(args.LeaderCommitIndex)
		}
	}
	return d.AppendPipeline.AppendEntries(args, resp)
}

// drain takes every response from the pipeline until it is closed.
func (d *drainedPipeline) drain() {
	in := d.AppendPipeline.Consumer()
	for {
		select {
		case f := <-in:
			if d.push != nil {
				req := f.Request()
				if f.Error() == nil {
					d.push.answered(d.id, req, f.Response())
				}
				if _, ok := d.pushed.LoadAndDelete(req); ok {
					continue // commitPush's: raft did not send it
				}
			}
			select {
			case d.out <- f:
			default: // raft stopped reading: it resends from the follower's next index
			}
		case <-d.done:
			return
		}
	}
}

func (d *drainedPipeline) Consumer() <-chan raft.AppendFuture { return d.out }

func (d *drainedPipeline) Close() error {
	d.closeOnce.Do(func() {
		close(d.done)
		if d.push != nil {
			d.push.closed(d)
		}
	})
	return d.AppendPipeline.Close()
}

// What raft looks for in its transport beyond raft.Transport must survive
// the wrapping: pre-vote above all.
var (
	_ raft.WithPreVote = drainedTransport{}
	_ raft.WithClose   = drainedTransport{}
	_ raft.WithPreVote = (*voteGuard)(nil)
	_ raft.WithClose   = (*voteGuard)(nil)
)
