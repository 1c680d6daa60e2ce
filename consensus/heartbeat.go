package consensus

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// heartbeatEvery is the least time between two heartbeats to a follower.
//
// hashicorp/raft sends each follower a heartbeat every HeartbeatTimeout/10,
// 50-100 ms with LANTiming, ten or more per timeout: an idle leader spent
// about 0.4 % of a core per follower on them (BenchmarkIdleCPU, issue 23).
// The transport paces them to one per heartbeatEvery, which still gives a
// follower at least two within its shortest election timeout (500 ms), so
// a dead leader is noticed as quickly as before. Heartbeats are delayed,
// never answered in the follower's place: what raft learns from them (the
// follower's term, the leader lease's contact times) stays true.
const heartbeatEvery = 200 * time.Millisecond

// heartbeatPacer holds each follower's heartbeats to one per
// heartbeatEvery.
type heartbeatPacer struct {
	mu   sync.Mutex
	last map[raft.ServerID]time.Time // when the last heartbeat to it went out
}

func newHeartbeatPacer() *heartbeatPacer {
	return &heartbeatPacer{last: map[raft.ServerID]time.Time{}}
}

// isHeartbeat says whether req is raft's heartbeat (raft's own test of
// one on the receiving side).
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	return req.Term != 0 && req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

// wait returns when a heartbeat may go to id: heartbeatEvery after the
// last one. It waits at most heartbeatEvery (raft's heartbeat goroutine is
// the only caller per follower, and raft's Shutdown waits for it).
func (p *heartbeatPacer) wait(id raft.ServerID) {
	p.mu.Lock()
	next := p.last[id].Add(heartbeatEvery)
	p.mu.Unlock()
	if d := time.Until(next); d > 0 {
		t := time.NewTimer(d)
		<-t.C
	}
	p.mu.Lock()
	p.last[id] = time.Now()
	p.mu.Unlock()
}
