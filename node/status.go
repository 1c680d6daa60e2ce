package node

import (
	"time"

	"concord/consensus"
	"concord/diskspace"
	"concord/failover"
	"concord/timesync"
	"concord/version"
)

// Status is this member's view of the team (`concord status`).
type Status struct {
	ID, Name, Team, TeamID string
	Role                   string // leader, follower, candidate or shutdown (Raft's state)
	// TeamRole is this member's role in the team: storage.RoleAdmin or
	// storage.RoleMember ("" until its own member record is applied).
	TeamRole          string
	Leader            string // the leader's peer ID; "" when none is known
	Voters, Nonvoters []string
	CommitIndex       uint64
	AppliedIndex      uint64
	Peers             []PeerStatus // every other member
	Outbox            int          // messages waiting in the outbox
	Clock             timesync.TimeStatus
	Storage           StorageState
	Disk              diskspace.DiskState
	// Consistency is whether this member's history matches its peers'
	// (digest.go).
	Consistency failover.Consistency
	// Release is this member's release; TeamVersion the team version
	// committed in its log (as far as it has applied).
	Release     string
	TeamVersion int
	// BlockedOnUpgrade is set while this member has stopped at a
	// committed entry it is too old to read: Release names the release
	// to install ("" if the entry does not say).
	BlockedOnUpgrade *Upgrade
}

// Upgrade is what a member blocked on an upgrade needs.
type Upgrade struct {
	Release string // the first release that reads the entry; "" if not said
	At      uint64 // the log entry it stopped at
}

// StorageState says whether this member can store the team's entries:
// StorageOK; StorageWriteFailed (its Raft log cannot be appended to, or a
// snapshot from the leader cannot be written or installed); or
// StorageStalled (applying committed entries to state.db stopped at
// StalledAt). Both clear by themselves once the cause (a full disk) is
// gone. Reason is a sentence, "" when ok.
type StorageState struct {
	State     string
	Reason    string
	StalledAt uint64
}

// The states of StorageState.
const (
	StorageOK          = "ok"
	StorageWriteFailed = "write_failed"
	StorageStalled     = "stalled"
)

// PeerStatus is another member as this one sees it.
type PeerStatus struct {
	ID, Name string
	Healthy  bool      // its liveness probes answer
	LastSeen time.Time // the last probe answered; zero: never
}

// Status reports this member's view of the team.
func (n *Node) Status() Status {
	rs := n.replica.Status()
	st := Status{
		ID: n.ID().String(), Name: n.conf.Name, Team: n.conf.TeamName, TeamID: n.conf.TeamID,
		Role: rs.Role, Leader: rs.Leader, Voters: nonNil(rs.Voters), Nonvoters: nonNil(rs.Nonvoters),
		CommitIndex: rs.CommitIndex, AppliedIndex: n.appliedIndex(rs),
		Peers: []PeerStatus{}, Clock: n.clock.Status(), Disk: n.disk.State(),
		Storage: n.storageState(), Consistency: n.digest.Status(), Outbox: n.drain.Queued(),
		Release: version.Release, TeamVersion: n.store.TeamVersion(),
	}
	if stall := n.replica.Stall(); stall != nil {
		if nu := stall.NeedsUpgrade(); nu != nil {
			st.BlockedOnUpgrade = &Upgrade{Release: nu.Release, At: stall.At}
		}
	}
	health := map[string]failover.PeerHealth{}
	for _, h := range n.monitor.Health() {
		health[h.ID.String()] = h
	}
	members, _ := n.store.Members()
	for _, m := range members {
		if m.ID == st.ID {
			st.Name = m.Name // renamed since start (config.json follows)
			st.TeamRole = m.Role
			continue
		}
		h := health[m.ID]
		st.Peers = append(st.Peers, PeerStatus{ID: m.ID, Name: m.Name, Healthy: h.Healthy, LastSeen: h.LastSeen})
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
func (n *Node) storageState() StorageState {
	out := StorageState{State: StorageOK}
	if err := n.replica.StorageErr(); err != nil {
		out.State, out.Reason = StorageWriteFailed, err.Error()
	} else if st := n.replica.Stall(); st != nil {
		out.State, out.Reason, out.StalledAt = StorageStalled, st.Error(), st.At
	}
	return out
}
