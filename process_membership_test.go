package main

import (
	"concord/control"
	"concord/internal/testutil"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitAll waits until cond holds for the status of every member in ps.
func waitAll(t *testing.T, d time.Duration, what string, ps []*proc, cond func(control.Status) bool) {
	t.Helper()
	err := testutil.Poll(context.Background(), d, 0, func() (bool, string) {
		for _, p := range ps {
			st, err := p.status()
			if err != nil {
				return false, err.Error()
			}
			if !cond(st) {
				return false, fmt.Sprintf("%s: raft state %s, voters %d, nonvoters %d, leader %.12s", p.name, st.RaftState, len(st.Voters), len(st.Nonvoters), st.Leader)
			}
		}
		return true, ""
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func without(ps []*proc, gone ...*proc) []*proc {
	return slices.DeleteFunc(slices.Clone(ps), func(p *proc) bool { return slices.Contains(gone, p) })
}

// TestProcessTeamOfFive: five members settle at three voters; a voter
// killed for good is replaced and retired; the leader quits cleanly with
// no failed send; a removed member is cut off and told so.
func TestProcessTeamOfFive(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	tm := newProcTeam(t, "ann", "bob", "cat", "dan", "eve")
	all := tm.procs
	out, err := cli(t, "members", "--data", all[0].dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []control.MemberRow
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r control.MemberRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("members --json: %v: %q", err, line)
		}
		rows = append(rows, r)
	}
	voters := 0
	for _, r := range rows {
		if r.Voter {
			voters++
		}
		if want := map[bool]string{true: "admin", false: "member"}[r.Name == "ann"]; r.Role != want {
			t.Fatalf("%s has role %q, want %q", r.Name, r.Role, want)
		}
	}
	if len(rows) != 5 || voters != 3 {
		t.Fatalf("members: %d rows, %d voters; want 5 and 3: %s", len(rows), voters, out)
	}

	// A voter that is not the leader dies for good.
	leader := tm.leader()
	st, _ := leader.status()
	var victim *proc
	for _, p := range all {
		if p != leader && p != all[0] && slices.Contains(st.Voters, p.id) {
			victim = p
			break
		}
	}
	start := time.Now()
	victim.kill()
	alive := without(all, victim)
	waitAll(t, 60*time.Second, "a non-voter promoted and the dead voter retired", alive, func(st control.Status) bool {
		return len(st.Voters) == 3 && !slices.Contains(st.Voters, victim.id) && !slices.Contains(st.Nonvoters, victim.id)
	})
	t.Logf("FIGURE voter replaced and retired %.1f s after SIGKILL", time.Since(start).Seconds())

	// The leader quits cleanly while every other member sends.
	leader = nil
	for _, p := range alive {
		if st, err := p.status(); err == nil && st.RaftState == "leader" {
			leader = p
		}
	}
	if leader == nil {
		t.Fatal("no leader among the living")
	}
	senders := without(alive, leader)
	var acked atomic.Int64
	done := make(chan struct{})
	var attempts []attempt
	var failures map[string]int
	go func() {
		defer close(done)
		attempts, failures = procSendLoad(t, senders, "q", 1, 15, 10*time.Second, &acked)
	}()
	testutil.WaitFor(t, 30*time.Second, "sends under way", func() bool { return acked.Load() >= 5 })
	if err := leader.stop(); err != nil {
		t.Fatalf("clean quit of the leader: %v", err)
	}
	<-done
	logFailures(t, "sends during the leader's clean quit", failures)
	for _, a := range attempts {
		if !a.Acked {
			t.Fatalf("a send failed while the leader quit cleanly (%d attempts)", len(attempts))
		}
	}
	alive = without(alive, leader)
	waitAll(t, 60*time.Second, "three voters among the three left", alive, func(st control.Status) bool { return len(st.Voters) == 3 })

	// The leader comes back; the founder removes another member.
	leader.start()
	leader.waitReady()
	alive = append(alive, leader)
	var gone *proc
	for _, p := range alive {
		if p != all[0] {
			gone = p
			break
		}
	}
	if _, err := cli(t, "remove", "--data", all[0].dir, gone.name); err != nil {
		t.Fatalf("remove %s: %v", gone.name, err)
	}
	testutil.WaitFor(t, 20*time.Second, gone.name+" to stop after its removal", func() bool { exited, _ := gone.exited(); return exited })
	if _, err := gone.exited(); err == nil || !strings.Contains(tailFile(gone.logPath, 5), "removed from the team") {
		t.Fatalf("the removed member did not say it was removed: %v\n%s", err, tailFile(gone.logPath, 5))
	}
	if _, err := cli(t, "run", "--data", gone.dir, "--headless"); err == nil || !strings.Contains(err.Error(), "removed from the team") {
		t.Fatalf("a removed member started again: %v", err)
	}
	alive = without(alive, gone)
	waitAll(t, 30*time.Second, "the removed member out of every list", alive, func(st control.Status) bool {
		return !slices.Contains(append(st.Voters, st.Nonvoters...), gone.id)
	})
	if _, err := cli(t, "send", "--data", alive[0].dir, "after the removal"); err != nil {
		t.Fatal(err)
	}
	hs := tm.waitConvergedOn(alive)
	var ids []string
	for _, a := range attempts {
		ids = append(ids, a.ID)
	}
	for name, h := range hs {
		for _, id := range ids {
			if !slices.Contains(h, id) {
				t.Fatalf("%s lacks acknowledged message %s", name, id)
			}
		}
	}
}

// TestProcessRecover: two of three voters die for good; `recover` on the
// third brings the team back with its history, and a new member can join.
func TestProcessRecover(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	tm := newProcTeam(t, "ann", "bob", "cat")
	attempts, failures := procSendLoad(t, tm.procs, "r", 1, 5, 10*time.Second, nil)
	logFailures(t, "sends", failures)
	before := tm.waitConverged()["ann"]
	ann, bob, cat := tm.procs[0], tm.procs[1], tm.procs[2]
	bob.kill()
	cat.kill()
	if err := ann.stop(); err != nil {
		t.Logf("stopping ann without quorum: %v", err)
	}
	out, err := cli(t, "recover", "--data", ann.dir)
	if err != nil || !strings.Contains(out, "--confirm") {
		t.Fatalf("recover without --confirm: %v %q", err, out)
	}
	start := time.Now()
	if _, err := cli(t, "recover", "--data", ann.dir, "--confirm"); err != nil {
		t.Fatal(err)
	}
	ann.start()
	ann.waitReady()
	tm.waitLeader(ann)
	t.Logf("FIGURE recover + restart to a leader: %.1f s", time.Since(start).Seconds())
	h, err := ann.history()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h, before) {
		t.Fatalf("history changed by recover: %d messages before, %d after", len(before), len(h))
	}
	for _, a := range attempts {
		if a.Acked && !slices.Contains(h, a.ID) {
			t.Fatalf("acknowledged message %s lost by recover", a.ID)
		}
	}
	if _, err := cli(t, "send", "--data", ann.dir, "the team carries on"); err != nil {
		t.Fatal(err)
	}
	code, err := cli(t, "invite", "--data", ann.dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := tm.root + "/dee"
	id, err := cli(t, "join", "--data", dir, "--name", "dee", "--invite", strings.TrimSpace(code), "--listen", loopback, "--ntp", noNTP[0])
	if err != nil {
		t.Fatal(err)
	}
	dee := newProc(t, "dee", dir, strings.TrimSpace(id))
	dee.start()
	tm.procs = []*proc{ann, dee}
	hs := tm.waitConverged()
	if len(hs["dee"]) != len(before)+1 {
		t.Fatalf("the new member has %d messages, want %d", len(hs["dee"]), len(before)+1)
	}
}
