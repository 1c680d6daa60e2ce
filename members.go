package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"concord/storage"
)

// memberRow is one line of `concord members --json`.
type memberRow struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Voter  bool   `json:"voter"`
	Online bool   `json:"online"`
}

// MemberList lists the team with each member's Raft suffrage and whether
// the liveness probes reach it (this member is always online).
func (n *Node) MemberList(ctx context.Context) ([]memberRow, error) {
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
	rows := make([]memberRow, 0, len(members))
	for _, m := range members {
		rows = append(rows, memberRow{ID: m.ID, Name: m.Name, Role: m.Role, Voter: voters[m.ID],
			Online: m.ID == n.ID().String() || healthy[m.ID]})
	}
	return rows, nil
}

func (cs *controlServer) members(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	rows, err := cs.node.MemberList(ctx)
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func printMemberRow(w io.Writer, r memberRow) {
	state, seat := "offline", "non-voter"
	if r.Online {
		state = "online"
	}
	if r.Voter {
		seat = "voter"
	}
	fmt.Fprintf(w, "%-20s %-7s %-9s %-6s %s\n", r.Name, r.Role, seat, state, r.ID)
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

type memberRequest struct {
	Member string `json:"member"`
	Role   string `json:"role,omitempty"`
}

func (cs *controlServer) memberChange(w http.ResponseWriter, r *http.Request) {
	var req memberRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
		cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var err error
	if r.URL.Path == "/v1/members/remove" {
		err = cs.node.RemoveMember(ctx, req.Member)
	} else {
		err = cs.node.SetRole(ctx, req.Member, req.Role)
	}
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"ok": req.Member})
}
