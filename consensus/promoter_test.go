package consensus

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
)

func TestCapPromoter(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	conf := &autopilot.Config{ServerStabilizationTime: 10 * time.Second}
	srv := func(id string, st autopilot.RaftState, healthy bool, stableFor time.Duration) *autopilot.ServerState {
		return &autopilot.ServerState{Server: autopilot.Server{ID: raft.ServerID(id)}, State: st,
			Health: autopilot.ServerHealth{Healthy: healthy, StableSince: now.Add(-stableFor)}}
	}
	L, V, N := autopilot.RaftLeader, autopilot.RaftVoter, autopilot.RaftNonVoter
	long, short := time.Minute, time.Second
	tests := []struct {
		name            string
		servers         []*autopilot.ServerState
		promote, demote []raft.ServerID
	}{
		{"fills up to three", []*autopilot.ServerState{srv("a", L, true, long), srv("b", N, true, long), srv("c", N, true, long), srv("d", N, true, long)},
			[]raft.ServerID{"b", "c"}, nil},
		{"waits for stability", []*autopilot.ServerState{srv("a", L, true, long), srv("b", N, true, short)}, nil, nil},
		{"never promotes the unhealthy", []*autopilot.ServerState{srv("a", L, true, long), srv("b", N, false, long)}, nil, nil},
		{"full team stays", []*autopilot.ServerState{srv("a", L, true, long), srv("b", V, true, long), srv("c", V, true, long), srv("d", N, true, long)}, nil, nil},
		{"replaces a dead voter", []*autopilot.ServerState{srv("a", L, true, long), srv("b", V, false, long), srv("c", V, true, long), srv("d", N, true, long)},
			[]raft.ServerID{"d"}, nil},
		{"longest stable first", []*autopilot.ServerState{srv("a", L, true, long), srv("b", V, false, long), srv("c", V, true, long),
			srv("d", N, true, 20*time.Second), srv("e", N, true, long)}, []raft.ServerID{"e"}, nil},
		{"demotes extra voters, not the leader", []*autopilot.ServerState{srv("a", L, true, short*20), srv("b", V, true, long), srv("c", V, true, long), srv("d", V, true, 15*time.Second)},
			nil, []raft.ServerID{"d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &autopilot.State{Servers: map[raft.ServerID]*autopilot.ServerState{}, Leader: "a"}
			for _, sv := range tc.servers {
				s.Servers[sv.Server.ID] = sv
			}
			p := &capPromoter{target: 3, now: func() time.Time { return now }}
			got := p.CalculatePromotionsAndDemotions(conf, s)
			if !slices.Equal(got.Promotions, tc.promote) || !slices.Equal(got.Demotions, tc.demote) {
				t.Fatalf("promote %v demote %v, want %v and %v", got.Promotions, got.Demotions, tc.promote, tc.demote)
			}
		})
	}
}
