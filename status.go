package main

import (
	"time"

	"concord/consensus"
	"concord/failover"
)

// statusJSON is `concord status --json`; fields owned by later work are null
// until it lands.
type statusJSON struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Team         string       `json:"team"`
	TeamID       string       `json:"team_id"`
	Role         string       `json:"role"`
	Leader       string       `json:"leader"`
	Voters       []string     `json:"voters"`
	Nonvoters    []string     `json:"nonvoters"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Peers        []peerStatus `json:"peers"`
	Outbox       *int         `json:"outbox"`
	Clock        clockStatus  `json:"clock"`
	Storage      storageState `json:"storage"`
	Disk         diskStatus   `json:"disk"`
	// Consistency is whether this member's history matches its peers'
	// (nodedigest.go).
	Consistency consistencyStatus `json:"consistency"`
}

// storageState says whether this member can store the team's entries:
// "ok"; "write_failed" (its Raft log cannot be appended to, or a snapshot
// from the leader cannot be written or installed); or "stalled" (applying
// committed entries to state.db stopped at StalledAt). Both clear by
// themselves once the cause (a full disk) is gone. Reason is a sentence,
// null when ok.
type storageState struct {
	State     string  `json:"state"`
	Reason    *string `json:"reason"`
	StalledAt *uint64 `json:"stalled_at"`
}

type peerStatus struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Healthy  bool    `json:"healthy"`
	LastSeen *string `json:"last_seen"`
}

type clockStatus struct {
	Source   string  `json:"source"`
	OffsetMS float64 `json:"offset_ms"`
}

// Status reports this member's view of the team.
func (n *Node) Status() statusJSON {
	rs := n.replica.Status()
	st := statusJSON{
		ID: n.ID().String(), Name: n.conf.Name, Team: n.conf.TeamName, TeamID: n.conf.TeamID,
		Role: rs.Role, Leader: rs.Leader, Voters: nonNil(rs.Voters), Nonvoters: nonNil(rs.Nonvoters),
		CommitIndex: rs.CommitIndex, AppliedIndex: n.appliedIndex(rs),
		Peers: []peerStatus{},
		Clock: clockStatus{Source: n.clock.Source(), OffsetMS: ms(n.clock.Offset())},
		Disk:  n.diskStatus(),
	}
	st.Storage = n.storageState()
	st.Consistency = n.consistency()
	queued := n.drain.Queued()
	st.Outbox = &queued
	health := map[string]failover.PeerHealth{}
	for _, h := range n.monitor.Health() {
		health[h.ID.String()] = h
	}
	members, _ := n.store.Members()
	for _, m := range members {
		if m.ID == st.ID {
			st.Name = m.Name // renamed since start (config.json follows)
			continue
		}
		h := health[m.ID]
		ps := peerStatus{ID: m.ID, Name: m.Name, Healthy: h.Healthy}
		if !h.LastSeen.IsZero() {
			ls := h.LastSeen.UTC().Format(time.RFC3339Nano)
			ps.LastSeen = &ls
		}
		st.Peers = append(st.Peers, ps)
	}
	return st
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// appliedIndex is the store's applied index, except that once the store has
// written everything raft handed over, raft's own applied index counts:
// raft never hands its no-op entries to the store, and a status saying
// "applied 4 of 5" after every election would suggest a lag that is not
// there.
func (n *Node) appliedIndex(rs consensus.Status) uint64 {
	applied := n.store.AppliedIndex()
	if n.replica.Settled() {
		applied = max(applied, min(rs.AppliedIndex, rs.CommitIndex))
	}
	return applied
}

// storageState reports what storageProblem finds, for status.
func (n *Node) storageState() storageState {
	out := storageState{State: "ok"}
	if err := n.replica.StorageErr(); err != nil {
		reason := err.Error()
		out.State, out.Reason = "write_failed", &reason
	}
	if st := n.replica.Stall(); st != nil && out.Reason == nil {
		reason, at := st.Error(), st.At
		out.State, out.Reason, out.StalledAt = "stalled", &reason, &at
	}
	return out
}
