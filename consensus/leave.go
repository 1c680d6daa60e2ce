package consensus

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
	"github.com/libp2p/go-libp2p/core/network"

	"concord/p2p"
)

// A voter that quits cleanly hands its seat over: after giving up the
// leadership it asks the leader, over ProtoLeave, to promote the healthiest
// stable non-voter in its place, so the team keeps its voters while
// it is away instead of waiting for autopilot to notice it is gone.

const leaveTimeout = 3 * time.Second

// handOverSeat asks the leader to move this member's seat to a non-voter.
// Best effort: on any failure autopilot does the same once it sees this
// member gone.
func (r *Replica) handOverSeat() {
	self := r.cfg.Host.ID()
	voters, nonvoters := r.Configuration()
	if !slices.Contains(voters, self.String()) || len(nonvoters) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	leader, err := r.WaitLeader(ctx)
	if err != nil || leader == self {
		return
	}
	s, err := r.cfg.Host.NewStream(ctx, leader, p2p.ProtoLeave)
	if err != nil {
		r.log.Debug("seat hand-over: no stream", "err", err)
		return
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(leaveTimeout))
	_ = s.CloseWrite()
	b, err := p2p.ReadFrame(s, 256)
	r.log.Info("seat hand-over", "answer", string(b), "err", err)
}

// serveLeave is the leader's side: demote the member asking, then promote
// the healthiest non-voter.
func (r *Replica) serveLeave(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	if r.raft.State() != raft.Leader {
		_ = s.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	answer := "kept"
	// Demote first, then promote: the other way round there would be one
	// voter too many for a moment, and autopilot, reconciling meanwhile,
	// would demote the newest voter, the heir.
	if heir := r.heir(from.String()); heir != "" {
		if r.changeConfig(ctx, "demote leaving voter", from.String(), r.raft.DemoteVoter(raft.ServerID(from.String()), 0, flushTimeout)) &&
			r.changeConfig(ctx, "promote heir", string(heir), r.raft.AddVoter(heir, raft.ServerAddress(heir), 0, flushTimeout)) {
			answer = "handed to " + string(heir)
		}
	}
	_ = p2p.WriteFrame(s, []byte(answer))
}

// heir is the non-voter that has been healthy longest ("" if none). The
// seat is taken from the current configuration: autopilot's state may be
// a moment old.
func (r *Replica) heir(leaving string) raft.ServerID {
	st := r.pilot.state()
	_, nonvoters := r.Configuration()
	if st == nil {
		return ""
	}
	var best *autopilot.ServerState
	for id, srv := range st.Servers {
		if string(id) == leaving || !slices.Contains(nonvoters, string(id)) || !srv.Health.Healthy {
			continue
		}
		if best == nil || srv.Health.StableSince.Before(best.Health.StableSince) {
			best = srv
		}
	}
	if best == nil {
		return ""
	}
	return best.Server.ID
}
