package consensus

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/raft"
)

// noVoteFile, in the member's Raft directory, marks a log that RepairLog
// emptied: the member must not vote until it has caught up with a leader.
//
// hashicorp/raft grants a vote to any candidate whose log is at least as
// new as the voter's. A member whose damaged log was set aside compares
// from its snapshot only, so it would vote for a candidate lacking a
// committed entry that only it and the old leader held (a majority of
// three), and that entry would be lost when the candidate wins
// (Protocol-Aware Recovery, FAST '18). So while the mark is there it
// refuses every vote and pre-vote request; the mark goes once the member
// holds everything up to the commit index the first leader it hears from
// announced (a leader holds every committed entry, so the member then
// holds every entry it lost). Until then a team that needs this member's
// vote to elect a leader waits for another voter: availability, never
// safety.
const noVoteFile = "no-vote-until-caught-up"

// closingTransport is a Raft transport that can be closed.
type closingTransport interface {
	raft.Transport
	raft.WithClose
}

// holds returns what a voteGuard asks: the newest index this member holds,
// in its log or its newest snapshot.
func holds(logs raft.LogStore, snaps raft.SnapshotStore) func() (uint64, error) {
	return func() (uint64, error) {
		last, err := logs.LastIndex()
		if err != nil {
			return 0, err
		}
		list, err := snaps.List()
		if err != nil {
			return 0, err
		}
		if len(list) > 0 {
			last = max(last, list[0].Index)
		}
		return last, nil
	}
}

// voteGuard is the Raft transport with vote requests refused while the
// member has not caught up after RepairLog.
type voteGuard struct {
	*raft.NetworkTransport
	out       chan raft.RPC
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	log       *slog.Logger

	mark   string                 // the noVoteFile to remove once caught up
	has    func() (uint64, error) // the newest index this member holds
	mu     sync.Mutex
	target uint64 // the first leader's commit index; 0 until heard
	off    bool   // caught up: the guard is lifted
}

// guardVotes wraps trans when dir holds the noVoteFile mark; has says up
// to which index the member holds the log (entries or snapshot).
func guardVotes(trans *raft.NetworkTransport, dir string, has func() (uint64, error), log *slog.Logger) closingTransport {
	mark := filepath.Join(dir, noVoteFile)
	if _, err := os.Stat(mark); err != nil {
		return trans
	}
	log.Warn("this member's Raft log was set aside after damage: it refuses to vote until it has caught up with a leader")
	g := &voteGuard{NetworkTransport: trans, out: make(chan raft.RPC), done: make(chan struct{}),
		log: log, mark: mark, has: has}
	g.wg.Add(1)
	go g.run(trans.Consumer())
	return g
}

func (g *voteGuard) Consumer() <-chan raft.RPC { return g.out }

func (g *voteGuard) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		g.NetworkTransport.SetHeartbeatHandler(nil)
		return
	}
	g.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) { _ = g.observe(rpc.Command); cb(rpc) })
}

// Close stops the guard's goroutine, then the transport. Raft's Shutdown
// closes its transport, and the replica closes it again: idempotent.
func (g *voteGuard) Close() error {
	g.closeOnce.Do(func() {
		close(g.done)
		g.wg.Wait()
		g.closeErr = g.NetworkTransport.Close()
	})
	return g.closeErr
}

func (g *voteGuard) run(in <-chan raft.RPC) {
	defer g.wg.Done()
	for {
		select {
		case rpc := <-in:
			if g.observe(rpc.Command) {
				g.holding() // lifts the guard once caught up
			}
			if g.refuse(rpc) {
				continue
			}
			select {
			case g.out <- rpc:
			case <-g.done:
				rpc.Respond(nil, raft.ErrTransportShutdown)
				return
			}
		case <-g.done:
			return
		}
	}
}

// refuse answers a vote or pre-vote request with "not granted" while the
// guard holds, and reports whether it did.
func (g *voteGuard) refuse(rpc raft.RPC) bool {
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		if !g.holding() {
			return false
		}
		g.log.Info("refused a vote: this member has not caught up since its log was repaired", "candidate", string(req.ID))
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: req.RPCHeader, Term: req.Term}, nil)
		return true
	case *raft.RequestPreVoteRequest:
		if !g.holding() {
			return false
		}
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: req.RPCHeader, Term: req.Term}, nil)
		return true
	}
	return false
}

// observe notes the first leader's commit index from its AppendEntries,
// and says whether cmd is one.
func (g *voteGuard) observe(cmd any) bool {
	ae, ok := cmd.(*raft.AppendEntriesRequest)
	if !ok {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.target == 0 && ae.LeaderCommitIndex > 0 {
		g.target = ae.LeaderCommitIndex
		g.log.Info("heard from a leader: votes resume once this member holds its commit index", "index", g.target)
	}
	return true
}

// holding says whether votes are still refused, and lifts the guard (and
// its mark) once the member holds the first leader's commit index.
func (g *voteGuard) holding() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.off {
		return false
	}
	if g.target == 0 {
		return true
	}
	if has, err := g.has(); err != nil || has < g.target {
		return true
	}
	g.off = true
	if err := os.Remove(g.mark); err != nil && !errors.Is(err, os.ErrNotExist) {
		g.log.Warn("cannot remove the no-vote mark", "path", g.mark, "err", err)
	}
	g.log.Info("caught up since the log was repaired: this member votes again", "index", g.target)
	return false
}
