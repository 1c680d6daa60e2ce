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

// TeamVersion reports the team version this member has applied, and the
// protocols its own release reads.
type TeamVersion struct {
	Team                     int    // the team version in this member's log
	Release                  string // this member's release
	ProtocolMin, ProtocolMax int    // the team versions this release works in
}

// TeamVersion reports the team version and what this release reads.
func (n *Node) TeamVersion(ctx context.Context) (TeamVersion, error) {
	if err := n.caughtUp(ctx); err != nil {
		return TeamVersion{}, err
	}
	return TeamVersion{Team: n.store.TeamVersion(), Release: version.Release,
		ProtocolMin: version.MinProtocol, ProtocolMax: version.Protocol}, nil
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
	return n.raiseTeamVersion(ctx, version.Protocol)
}

// raiseTeamVersion commits the raise to v.
func (n *Node) raiseTeamVersion(ctx context.Context, v int) (int, error) {
	if _, err := n.commit(ctx, storage.Op{Kind: storage.OpSetTeamVersion, By: n.ID().String(), Version: v}); err != nil {
		return n.store.TeamVersion(), err
	}
	return n.store.TeamVersion(), nil
}
