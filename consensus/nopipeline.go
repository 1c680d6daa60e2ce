package consensus

import "github.com/hashicorp/raft"

// unpipelined is the Raft transport with pipelined replication turned off.
//
// hashicorp/raft v1.8.0's pipeline can deadlock (grafana/pyroscope#5518):
// with MaxRPCsInFlight at its default of 2 both of netPipeline's channels
// are unbuffered, and after a follower answers Success=false the leader's
// send loop can park on one while the response decoder parks on the
// other. The follower then gets heartbeats but never another entry until
// the leader changes, and the leader's Shutdown waits forever. Here it
// showed as an in-process test team hanging in Close about one run in 13,
// after a follower restarted while the leader committed. go-libp2p-raft
// gives no way to set MaxRPCsInFlight to 1, which turns the pipeline off;
// this does the same: on ErrPipelineReplicationNotSupported raft sends
// one AppendEntries at a time, each carrying up to MaxAppendEntries.
type unpipelined struct{ *raft.NetworkTransport }

func (unpipelined) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}
