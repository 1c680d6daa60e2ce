package consensus

import (
	"cmp"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
)

// capPromoter is autopilot's promoter for a team: like the stable
// promoter it promotes non-voters that have been healthy for the
// stabilization time, but only while fewer than target voters are healthy,
// and it demotes healthy voters beyond target (never the leader). A dead
// voter thus gets a replacement first; autopilot then retires it.
type capPromoter struct {
	autopilot.StablePromoter
	target int
	now    func() time.Time
}

var _ autopilot.Promoter = (*capPromoter)(nil)

// CalculatePromotionsAndDemotions implements autopilot.Promoter.
func (p *capPromoter) CalculatePromotionsAndDemotions(c *autopilot.Config, s *autopilot.State) autopilot.RaftChanges {
	var changes autopilot.RaftChanges
	now := p.now()
	minStable := s.ServerStabilizationTime(c)
	var healthyVoters, candidates []*autopilot.ServerState
	for _, srv := range s.Servers {
		switch {
		case srv.HasVotingRights() && srv.Health.Healthy:
			healthyVoters = append(healthyVoters, srv)
		case srv.State == autopilot.RaftNonVoter && srv.Health.IsStable(now, minStable):
			candidates = append(candidates, srv)
		}
	}
	// The longest-stable first; IDs break ties so every run agrees.
	slices.SortFunc(candidates, func(a, b *autopilot.ServerState) int {
		return cmp.Or(a.Health.StableSince.Compare(b.Health.StableSince), cmp.Compare(a.Server.ID, b.Server.ID))
	})
	for _, srv := range candidates {
		if len(healthyVoters)+len(changes.Promotions) >= p.target {
			break
		}
		changes.Promotions = append(changes.Promotions, srv.Server.ID)
	}
	if extra := len(healthyVoters) - p.target; extra > 0 {
		// The most recently stable voters step back first.
		slices.SortFunc(healthyVoters, func(a, b *autopilot.ServerState) int {
			return cmp.Or(b.Health.StableSince.Compare(a.Health.StableSince), cmp.Compare(b.Server.ID, a.Server.ID))
		})
		for _, srv := range healthyVoters {
			if extra == 0 {
				break
			}
			if srv.Server.ID != s.Leader {
				changes.Demotions = append(changes.Demotions, srv.Server.ID)
				extra--
			}
		}
	}
	return changes
}

// GetNodeTypes implements autopilot.Promoter: every member may vote.
func (p *capPromoter) GetNodeTypes(_ *autopilot.Config, s *autopilot.State) map[raft.ServerID]autopilot.NodeType {
	types := make(map[raft.ServerID]autopilot.NodeType, len(s.Servers))
	for id := range s.Servers {
		types[id] = autopilot.NodeVoter
	}
	return types
}
