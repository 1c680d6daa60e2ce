package consensus

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
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
	defer func() { <-r.pilot.ap.Stop() }()
	leading := false
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
			leading = r.steer(ctx, leading)
			r.reconcile(ctx)
		case <-r.nudge:
			r.reconcile(ctx)
			r.standDown(ctx)
		case <-tick.C:
			// Observations can be dropped when the channel is full; the
			// ticker makes sure nothing waits on a stale leader for long.
			r.leader.notify()
			leading = r.steer(ctx, leading)
			r.reconcile(ctx)
			r.standDown(ctx)
		}
	}
}

// steer runs autopilot while this member leads and stops it otherwise;
// leading says whether it runs now, and the result whether it runs after.
func (r *Replica) steer(ctx context.Context, leading bool) bool {
	now := r.raft.State() == raft.Leader
	switch {
	case now && !leading:
		r.pilot.ap.Start(ctx)
	case !now && leading:
		<-r.pilot.ap.Stop()
	}
	return now
}

func (r *Replica) nudgeReconcile() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// reconcile keeps the Raft configuration in step with the committed member
// list: a member that is online and not in the configuration enters as a
// non-voter (so an offline joiner never costs the team its quorum), and a
// removed member leaves it. Promotions, demotions and retiring dead voters
// are autopilot's (pilot).
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
	known := map[raft.ServerID]bool{}
	for _, s := range f.Configuration().Servers {
		known[s.ID] = true
	}
	for _, m := range members {
		id := raft.ServerID(m.ID)
		if !known[id] && r.online(m.ID) {
			r.changeConfig(ctx, "add non-voter", m.ID, r.raft.AddNonvoter(id, raft.ServerAddress(id), 0, flushTimeout))
		}
	}
	for id := range known {
		if _, err := r.cfg.Store.Removal(string(id)); err == nil {
			r.changeConfig(ctx, "remove removed member", string(id), r.raft.RemoveServer(id, 0, flushTimeout))
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
	return r.cfg.Online(p)
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
