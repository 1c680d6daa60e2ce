package node

import (
	"context"
	"fmt"

	"concord/storage"
	"concord/version"
)

// The team version is the newest replicated protocol every member may be
// assumed to read; nothing newer is written to the log (docs/protocol.md,
// "Versions"). A new team starts at the newest protocol of the release that
// makes it; a team made by an earlier release stays where it is until an
// admin raises it (RaiseTeamVersion).

// TeamVersion reports the team version this member has applied, the
// protocols its own release reads, and what each member runs.
type TeamVersion struct {
	Team                     int    // the team version in this member's log
	Release                  string // this member's release
	ProtocolMin, ProtocolMax int    // the team versions this release works in
	Members                  []MemberRelease
}

// MemberRelease is what this member knows of another's release, and
// whether it holds a raise of the team version back.
type MemberRelease struct {
	ID, Name string
	Release  Release // zero Seen: never heard from
	// Counts is set when the member must read a new team version before
	// it is raised: a voter, or seen (or joined) within the upgrade
	// window. HoldsBack is set when it counts and does not (or is not
	// known to) read the newest version this release writes.
	Counts, HoldsBack bool
}

// TeamVersion reports the team version and what this release reads.
func (n *Node) TeamVersion(ctx context.Context) (TeamVersion, error) {
	if err := n.caughtUp(ctx); err != nil {
		return TeamVersion{}, err
	}
	_, members := n.upgradeTarget()
	return TeamVersion{Team: n.store.TeamVersion(), Release: version.Release,
		ProtocolMin: version.MinProtocol, ProtocolMax: version.Protocol, Members: members}, nil
}

// upgradeTarget is the newest team version every member that counts reads
// (at most this release's newest), and what is known of each member.
func (n *Node) upgradeTarget() (int, []MemberRelease) {
	target := version.Protocol
	members, err := n.store.Members()
	if err != nil {
		return 0, nil
	}
	voters := map[string]bool{}
	for _, v := range n.replica.Status().Voters {
		voters[v] = true
	}
	now, window := n.clock.Now(), n.conf.upgradeWindow()
	self := n.ID().String()
	out := make([]MemberRelease, 0, len(members))
	for _, m := range members {
		mr := MemberRelease{ID: m.ID, Name: m.Name}
		r, known := n.versions.get(m.ID)
		if m.ID == self {
			r, known = selfRelease(now), true
		}
		mr.Release = r
		last := r.Seen
		if !known {
			last = m.JoinedAt
		}
		mr.Counts = voters[m.ID] || now.Sub(last) < window
		if mr.Counts && (!known || r.ProtocolMax < version.Protocol) {
			mr.HoldsBack = true
		}
		if mr.Counts {
			if !known {
				target = 0
			} else {
				target = min(target, r.ProtocolMax)
			}
		}
		out = append(out, mr)
	}
	return target, out
}

// maybeRaiseTeamVersion raises the team version, on the leader, once every
// member that counts reads a newer one.
func (n *Node) maybeRaiseTeamVersion(ctx context.Context) {
	if n.replica.Status().Role != "leader" || n.blocked() != nil {
		return
	}
	cur := n.store.TeamVersion()
	if cur >= n.maxTeamVersion() {
		return
	}
	target, _ := n.upgradeTarget()
	target = min(target, n.maxTeamVersion())
	if target <= cur {
		return
	}
	v, err := n.raiseTeamVersion(ctx, target, n.commitAuto)
	if err != nil {
		n.log.Warn("could not raise the team version", "to", target, "err", err)
		return
	}
	n.log.Info("raised the team version: every member reads it", "team_version", v)
}

// RaiseTeamVersion raises the team version to the newest this release
// writes. Admins only. Members whose release cannot read the new version
// stop at the raise and are told which release to install; members of
// releases before 0.2.0 cannot tell, and skip everything after it: raise
// only when every member runs 0.2.0 or later (docs/operations.md).
func (n *Node) RaiseTeamVersion(ctx context.Context) (int, error) {
	if err := n.caughtUp(ctx); err != nil {
		return 0, err
	}
	self, err := n.store.Member(n.ID().String())
	if err != nil || self.Role != storage.RoleAdmin {
		return 0, fmt.Errorf("%w: only an admin can raise the team version", ErrInvalid)
	}
	if cur := n.store.TeamVersion(); cur >= version.Protocol {
		return cur, fmt.Errorf("%w: the team version is already %d, the newest this release (%s) writes", ErrInvalid, cur, version.Release)
	}
	return n.raiseTeamVersion(ctx, version.Protocol, n.commit)
}

// raiseTeamVersion commits the raise to v through commit: n.commit for an
// admin's raise, n.commitAuto for the member's own.
func (n *Node) raiseTeamVersion(ctx context.Context, v int, commit func(context.Context, storage.Op) (storage.Result, error)) (int, error) {
	if _, err := commit(ctx, storage.Op{Kind: storage.OpSetTeamVersion, By: n.ID().String(), Version: v}); err != nil {
		return n.store.TeamVersion(), err
	}
	return n.store.TeamVersion(), nil
}

// maxTeamVersion is the newest team version this member raises to by
// itself (Config.MaxTeamVersion).
func (n *Node) maxTeamVersion() int {
	if v := n.cfg.MaxTeamVersion; v > 0 {
		return min(v, version.Protocol)
	}
	return version.Protocol
}
