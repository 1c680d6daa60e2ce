package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
