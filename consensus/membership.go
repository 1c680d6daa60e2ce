package consensus

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// watch follows Raft's observations (leader changes wake waiting proposers)
// and, while this member leads, keeps the Raft configuration in step with
// the committed member list.
func (r *Replica) watch(ctx context.Context) {
	obs := make(chan raft.Observation, 64)
	o := raft.NewObserver(obs, false, func(ob *raft.Observation) bool {
		_, ok := ob.Data.(raft.LeaderObservation)
		return ok
	})
	r.raft.RegisterObserver(o)
	defer r.raft.DeregisterObserver(o)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ob := <-obs:
			lo := ob.Data.(raft.LeaderObservation)
			r.log.Info("leader changed", "leader", string(lo.LeaderID), "term", r.raft.CurrentTerm())
			r.leader.notify()
			if string(lo.LeaderID) == string(r.cfg.Host.ID().String()) {
				r.reconcile(ctx)
			}
		case <-r.nudge:
			r.reconcile(ctx)
		case <-tick.C:
			// Observations can be dropped when the channel is full; the
			// ticker makes sure nothing waits on a stale leader for long.
			r.leader.notify()
			r.reconcile(ctx)
		}
	}
}

func (r *Replica) nudgeReconcile() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// reconcile keeps the Raft configuration in step with the committed member
// list: a new member enters as a non-voter (so an offline joiner never costs
// the team its quorum) and is promoted while there are fewer than MaxVoters
// voters and the leader is connected to it.
func (r *Replica) reconcile(ctx context.Context) {
	if r.raft.State() != raft.Leader {
		return
	}
	members, err := r.cfg.Store.Members()
	if err != nil {
		r.log.Error("read members", "err", err)
		return
	}
	f := r.raft.GetConfiguration()
	if err := waitFuture(ctx, f); err != nil {
		return
	}
	suffrage := map[raft.ServerID]raft.ServerSuffrage{}
	voters := 0
	for _, s := range f.Configuration().Servers {
		suffrage[s.ID] = s.Suffrage
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	for _, m := range members {
		id := raft.ServerID(m.ID)
		s, known := suffrage[id]
		switch {
		case !known:
			r.changeConfig(ctx, "add non-voter", m.ID, r.raft.AddNonvoter(id, raft.ServerAddress(id), 0, flushTimeout))
		case s != raft.Voter && voters < r.cfg.MaxVoters && r.online(m.ID):
			if r.changeConfig(ctx, "promote to voter", m.ID, r.raft.AddVoter(id, raft.ServerAddress(id), 0, flushTimeout)) {
				voters++
			}
		}
	}
}

func (r *Replica) changeConfig(ctx context.Context, what, id string, fut raft.IndexFuture) bool {
	cctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := waitFuture(cctx, fut); err != nil {
		r.log.Warn("raft configuration change failed", "change", what, "peer", id, "err", err)
		return false
	}
	r.log.Info("raft configuration changed", "change", what, "peer", id)
	return true
}

func (r *Replica) online(id string) bool {
	p, err := peer.Decode(id)
	if err != nil {
		return false
	}
	return r.cfg.Host.Network().Connectedness(p) == network.Connected
}

// Configuration returns the peer IDs of the current voters and non-voters.
func (r *Replica) Configuration() (voters, nonvoters []string) {
	f := r.raft.GetConfiguration()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := waitFuture(ctx, f); err != nil {
		return nil, nil
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.ID))
		} else {
			nonvoters = append(nonvoters, string(s.ID))
		}
	}
	return voters, nonvoters
}

// Status is a snapshot of this member's view of the team's Raft state.
type Status struct {
	Role         string // leader, follower, candidate, nonvoter, shutdown
	Leader       string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	Voters       []string
	Nonvoters    []string
}

// Status reports the member's Raft state.
func (r *Replica) Status() Status {
	st := Status{
		Role:         roleName(r.raft.State()),
		CommitIndex:  r.raft.CommitIndex(),
		AppliedIndex: r.raft.AppliedIndex(),
		Term:         r.raft.CurrentTerm(),
	}
	if l := r.Leader(); l != "" {
		st.Leader = l.String()
	}
	st.Voters, st.Nonvoters = r.Configuration()
	self := r.cfg.Host.ID().String()
	for _, id := range st.Nonvoters {
		if id == self && st.Role == "follower" {
			st.Role = "nonvoter"
		}
	}
	return st
}

func roleName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	case raft.Shutdown:
		return "shutdown"
	default:
		return fmt.Sprint(s)
	}
}
