package bench

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// LANConfig returns the Raft configuration Concord uses on a LAN, for the
// server with the given ID: 500 ms heartbeat and election timeouts, a 250 ms
// leader lease, pre-vote on (raft's default) and a logger that discards
// everything. Its commit timeout is 5 ms, what raw raft needs for followers
// to learn commits quickly; Concord's is 500 ms because its leader pushes
// commits (consensus/commitpush.go). Neither touches the leader's commit
// latency. Other fields keep raft.DefaultConfig's values.
func LANConfig(id string) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.PreVoteDisabled = false
	c.Logger = hclog.NewNullLogger()
	return c
}
