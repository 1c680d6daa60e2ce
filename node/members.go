package node

import (
	"context"
	"fmt"
	"strings"

	"concord/storage"
	"concord/version"
)

// Member is a member of the team as this member sees it.
type Member struct {
	ID, Name string
	Role     string // storage.RoleAdmin or storage.RoleMember
	Voter    bool   // it votes in Raft
	Online   bool   // its liveness probes answer (this member always is)
	// Release is the release it runs, as last heard: "" unknown, "before
	// 0.2.0" for a member that answers probes but does not say.
	Release string
}

// Members lists the team with each member's Raft suffrage and whether
// the liveness probes reach it (this member is always online).
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	if err := n.caughtUp(ctx); err != nil {
		return nil, err
	}
	members, err := n.store.Members()
	if err != nil {
		return nil, err
	}
	st := n.replica.Status()
	voters := map[string]bool{}
	for _, v := range st.Voters {
		voters[v] = true
	}
	healthy := map[string]bool{}
	for _, h := range n.monitor.Health() {
		healthy[h.ID.String()] = h.Healthy
	}
	rows := make([]Member, 0, len(members))
	for _, m := range members {
		rows = append(rows, Member{ID: m.ID, Name: m.Name, Role: m.Role, Voter: voters[m.ID],
			Online: m.ID == n.ID().String() || healthy[m.ID], Release: n.releaseOf(m.ID)})
	}
	return rows, nil
}

// releaseOf is the release member id runs, as last heard.
func (n *Node) releaseOf(id string) string {
	if id == n.ID().String() {
		return version.Release
	}
	r, ok := n.versions.get(id)
	switch {
	case !ok:
		return ""
	case r.Release == "":
		return "before 0.2.0"
	}
	return r.Release
}

// resolveMember finds a member by peer ID or by a name only one member has.
func (n *Node) resolveMember(ctx context.Context, who string) (storage.Member, error) {
	if err := n.caughtUp(ctx); err != nil {
		return storage.Member{}, err
	}
	if m, err := n.store.Member(who); err == nil {
		return m, nil
	}
	members, err := n.store.Members()
	if err != nil {
		return storage.Member{}, err
	}
	var found []storage.Member
	for _, m := range members {
		if strings.EqualFold(m.Name, who) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 0:
		return storage.Member{}, fmt.Errorf("%w: no member is called or has the ID %q", ErrInvalid, who)
	case 1:
		return found[0], nil
	default:
		return storage.Member{}, fmt.Errorf("%w: %d members are called %q: give the ID", ErrInvalid, len(found), who)
	}
}

// RemoveMember removes a member (ID or unique name) from the team: admins
// may remove anyone, a member may remove itself. The team stops admitting
// it at once; it hears why if it is online.
func (n *Node) RemoveMember(ctx context.Context, who string) error {
	m, err := n.resolveMember(ctx, who)
	if err != nil {
		return err
	}
	_, err = n.commit(ctx, storage.Op{Kind: storage.OpRemoveMember, By: n.ID().String(), Target: m.ID})
	return err
}

// SetRole makes a member (ID or unique name) an admin or a plain member;
// admins only, and the team keeps at least one admin.
func (n *Node) SetRole(ctx context.Context, who, role string) error {
	if role != storage.RoleAdmin && role != storage.RoleMember {
		return fmt.Errorf("%w: a role is %q or %q", ErrInvalid, storage.RoleAdmin, storage.RoleMember)
	}
	m, err := n.resolveMember(ctx, who)
	if err != nil {
		return err
	}
	_, err = n.commit(ctx, storage.Op{Kind: storage.OpSetRole, By: n.ID().String(), Target: m.ID, Role: role})
	return err
}
