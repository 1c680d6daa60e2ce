package consensus

import "github.com/hashicorp/raft"

// serialTransport is Raft's network transport without pipelined
// replication: the leader sends a follower one AppendEntries at a time.
//
// hashicorp/raft v1.8.0's pipeline can deadlock when a follower refuses an
// append (hashicorp/raft#612, open): its decoder stops at the refusal and
// no longer takes responses, and the sender, which may pick one more send
// before it sees the decoder gone (a select between the two, 50:50 under
// load), blocks for good on the unbuffered in-flight queue. The leader's
// heartbeats go on, so the follower never calls an election, and it gets
// no entry again until the leadership changes. The chaos suite's
// wedged-rotation scenario hit it with 3 members: a member whose append
// failed on its full disk applied nothing more for minutes after the space
// was back (the leader's goroutine dump: pipelineSend blocked in
// netPipeline.AppendEntries, decodeResponses blocked sending to doneCh,
// both for 3 minutes).
//
// The price, measured with BenchmarkCommit (node) on this shared 2-core
// machine, 3 runs before and 4 after: the replication engine's throughput
// against raw raft's in the same run fell from 4.0–5.8x to 0.95–1.4x at 16
// concurrent senders and from 2.1–2.8x to 1.5–2.7x at 256, and its p50 at
// one sender went from 0.24–0.77 ms to 0.64–1.11 ms. HashiCorp's note on
// MaxRPCsInFlight says pipelining gains little; here it gained a lot under
// load, though a team's chat load is far below both.
type serialTransport struct{ *raft.NetworkTransport }

// AppendEntriesPipeline refuses: Raft then replicates with one request at a
// time.
func (serialTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// What Raft looks for in its transport beyond raft.Transport must survive
// the wrapping: pre-vote above all.
var (
	_ raft.WithPreVote = serialTransport{}
	_ raft.WithClose   = serialTransport{}
	_ raft.WithPreVote = (*voteGuard)(nil)
	_ raft.WithClose   = (*voteGuard)(nil)
)
