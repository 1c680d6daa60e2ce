package consensus

import (
	"sync"

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
type drainedTransport struct{ *raft.NetworkTransport }

func (t drainedTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	d := &drainedPipeline{AppendPipeline: p, out: make(chan raft.AppendFuture, pipelineBuffer), done: make(chan struct{})}
	go d.drain()
	return d, nil
}

// pipelineBuffer is far more responses than the pipeline keeps in flight
// (2), so none is dropped while raft reads them.
const pipelineBuffer = 64

type drainedPipeline struct {
	raft.AppendPipeline
	out       chan raft.AppendFuture
	done      chan struct{}
	closeOnce sync.Once
}

// drain takes every response from the pipeline until it is closed.
func (d *drainedPipeline) drain() {
	in := d.AppendPipeline.Consumer()
	for {
		select {
		case f := <-in:
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
	d.closeOnce.Do(func() { close(d.done) })
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
