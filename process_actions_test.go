package main

import (
	"concord/control"
	"concord/internal/testutil"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestProcessActionsWithoutQuorum: `concord edit` and `concord react`
// behave like `send` without quorum (a non-zero exit saying queued, the
// change listed by `outbox`) and land once the team is back, after the
// message, on every member.
func TestProcessActionsWithoutQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts member processes")
	}
	tm := newProcTeam(t, "a", "b", "c")
	a := tm.procs[0]
	for _, p := range tm.procs[1:] {
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
	}
	id, err := cli(t, "send", "--data", a.dir, "--no-wait", "typed without quorum")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	for _, args := range [][]string{{"edit", id, "edited without quorum"}, {"react", id, "👍"}} {
		_, err := cli(t, append([]string{args[0], "--data", a.dir, "--timeout", "1s"}, args[1:]...)...)
		if err == nil || !strings.Contains(err.Error(), "queued") {
			t.Fatalf("%s without quorum: %v, want a non-zero exit saying it is queued", args[0], err)
		}
	}
	out, err := cli(t, "outbox", "--data", a.dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"action":"edit"`) || !strings.Contains(out, `"action":"react"`) {
		t.Fatalf("outbox does not list the edit and the reaction:\n%s", out)
	}
	for _, p := range tm.procs[1:] {
		p.start()
	}
	tm.waitVoters(3)
	testutil.WaitFor(t, 30*time.Second, "the outbox to drain", func() bool {
		out, err := cli(t, "outbox", "--data", a.dir, "--json")
		return err == nil && strings.TrimSpace(out) == ""
	})
	tm.waitConverged()
	for _, p := range tm.procs {
		var row control.HistoryRow
		testutil.WaitFor(t, 10*time.Second, p.name+" to show the edit and the reaction", func() bool {
			out, err := cli(t, "history", "--data", p.dir, "--json")
			if err != nil || json.Unmarshal([]byte(strings.TrimSpace(out)), &row) != nil {
				return false
			}
			return row.Text == "edited without quorum" && row.EditedAt != "" && len(row.Reactions["👍"]) == 1
		})
		if row.ID != id {
			t.Fatalf("%s: history shows %+v, want message %s", p.name, row, id)
		}
	}
	// Committed now: edit waits and succeeds like send.
	if _, err := cli(t, "edit", "--data", a.dir, id, "edited again"); err != nil {
		t.Fatal(err)
	}
}
