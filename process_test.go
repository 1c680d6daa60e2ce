package main

// Level 3 of the test plan: the real `concord` binary, one OS process per
// member, driven only through the CLI, on 127.0.0.1.

import (
	"concord/internal/testutil"
	"concord/node"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestProcessThreeMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts member processes")
	}
	t0 := time.Now()
	tm := newProcTeam(t, "a", "b", "c")
	t.Logf("team of 3 formed in %v", time.Since(t0).Round(time.Millisecond))

	// Concurrent sends through every member: all must be acknowledged and
	// end up everywhere, once, in one order.
	t1 := time.Now()
	attempts, failures := procSendLoad(t, tm.procs, "s", 3, 10, 10*time.Second, nil)
	t.Logf("%d sends through 3 members in %v", len(attempts), time.Since(t1).Round(time.Millisecond))
	logFailures(t, "steady state", failures)
	r := checkHistories(attempts, tm.waitConverged())
	t.Logf("steady state: %v", r)
	out, err := cli(t, "members", "--data", tm.procs[1].dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, `"voter":true`) != 3 || strings.Count(out, `"online":true`) != 3 || !strings.Contains(out, `"role":"admin"`) {
		t.Fatalf("members should list 3 online voters, one admin:\n%s", out)
	}
	if !r.OK() || r.Acked != len(attempts) {
		t.Fatalf("replication broke its promise: %v", r)
	}

	// SIGKILL the leader while senders work through every member,
	// including the leader.
	victim := tm.leader()
	t.Logf("leader is %s; killing it under load", victim.name)
	var acked atomic.Int64
	var loadDone atomic.Bool
	var attempts2 []attempt
	var failures2 map[string]int
	var wg sync.WaitGroup
	wg.Go(func() {
		defer loadDone.Store(true)
		attempts2, failures2 = procSendLoad(t, tm.procs, "k", 2, 15, 5*time.Second, &acked)
	})
	testutil.WaitFor(t, 30*time.Second, "a few acknowledged sends before the kill", func() bool {
		return acked.Load() >= 10 || loadDone.Load()
	})
	if loadDone.Load() {
		wg.Wait()
		t.Fatalf("the load ended before the leader could be killed (%d acked): %v", acked.Load(), failures2)
	}
	ackedAtKill := acked.Load()
	t2 := time.Now()
	victim.kill()
	wg.Wait()
	t.Logf("killed %s after %d acknowledged sends; load finished %v later", victim.name, ackedAtKill, time.Since(t2).Round(time.Millisecond))
	logFailures(t, "leader loss", failures2)
	for _, p := range tm.procs {
		n, ok := through(attempts2, p.name)
		t.Logf("through %s: %d of %d acknowledged", p.name, ok, n)
		// Only an election's worth of sends through the survivors may fail.
		if p != victim && ok < n/2 {
			t.Errorf("too few sends through surviving member %s succeeded: %d of %d", p.name, ok, n)
		}
	}

	t3 := time.Now()
	victim.start()
	tm.waitVoters(3)
	hist := tm.waitConverged()
	t.Logf("%s restarted and caught up in %v", victim.name, time.Since(t3).Round(time.Millisecond))
	all := append(append([]attempt{}, attempts...), attempts2...)
	r = checkHistories(all, hist)
	t.Logf("after leader loss: %v", r)
	if !r.OK() {
		t.Fatalf("leader loss broke the promise: %v", r)
	}
	for name, h := range hist {
		if len(h) > len(all) {
			t.Errorf("%s has %d messages, more than the %d sent", name, len(h), len(all))
		}
	}
}

func TestProcessRestartAll(t *testing.T) {
	if testing.Short() {
		t.Skip("starts member processes")
	}
	tm := newProcTeam(t, "a", "b", "c")
	var attempts []attempt
	for k := range 5 {
		p := tm.procs[k%3]
		out, err := cli(t, "send", "--data", p.dir, fmt.Sprintf("before restart #%d", k))
		if err != nil {
			t.Fatal(err)
		}
		attempts = append(attempts, attempt{ID: strings.TrimSpace(out), Author: "test", Acked: true})
	}
	tm.waitConverged()

	// SIGTERM everyone at once: the whole team goes down.
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(tm.procs))
	for i, p := range tm.procs {
		wg.Go(func() { errs[i] = p.stop() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("member %s did not stop cleanly on SIGTERM: %v", tm.procs[i].name, err)
		}
	}
	t.Logf("all stopped in %v", time.Since(t0).Round(time.Millisecond))

	// And back up, with no manual step.
	t1 := time.Now()
	for _, p := range tm.procs {
		p.start()
	}
	tm.waitVoters(3)
	t.Logf("team re-formed in %v", time.Since(t1).Round(time.Millisecond))
	r := checkHistories(attempts, tm.waitConverged())
	t.Logf("after restart: %v", r)
	if !r.OK() {
		t.Fatalf("restart lost or changed history: %v", r)
	}

	// Every member can send again, and it replicates.
	for _, p := range tm.procs {
		out, err := cli(t, "send", "--data", p.dir, "after restart via "+p.name)
		if err != nil {
			t.Fatalf("send through %s after restart: %v", p.name, err)
		}
		attempts = append(attempts, attempt{ID: strings.TrimSpace(out), Author: "test", Acked: true})
	}
	hist := tm.waitConverged()
	r = checkHistories(attempts, hist)
	t.Logf("sends after restart: %v", r)
	if !r.OK() {
		t.Fatalf("sends after restart: %v", r)
	}
	for name, h := range hist {
		if len(h) != len(attempts) {
			t.Errorf("%s has %d messages, want %d", name, len(h), len(attempts))
		}
	}
}

func TestProcessBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts member processes")
	}
	tm := newProcTeam(t, "a")
	a := tm.procs[0]

	// fails runs the CLI, wants a failure with a one-line reason on stderr
	// that mentions every one of want, and returns that line.
	fails := func(what string, want []string, args ...string) string {
		t.Helper()
		out, err := cli(t, args...)
		var ce *cliError
		if !errors.As(err, &ce) {
			t.Errorf("%s: succeeded (stdout %q), want a failure", what, out)
			return ""
		}
		if ce.code <= 0 {
			t.Errorf("%s: %v, want a non-zero exit", what, ce)
		}
		reason := strings.TrimRight(ce.stderr, "\n")
		if reason == "" || strings.Contains(reason, "\n") {
			t.Errorf("%s: want a one-line reason on stderr, got %q", what, ce.stderr)
		}
		for _, w := range want {
			if !strings.Contains(strings.ToLower(reason), strings.ToLower(w)) {
				t.Errorf("%s: reason %q does not mention %q", what, reason, w)
			}
		}
		if strings.TrimSpace(out) != "" {
			t.Errorf("%s: failed but printed %q on stdout", what, out)
		}
		t.Logf("%s: exit %d: %s", what, ce.code, reason)
		return reason
	}

	fails("oversized send", []string{"longer than"}, "send", "--data", a.dir, strings.Repeat("x", 40<<10))
	fails("unknown channel", []string{"nope"}, "send", "--data", a.dir, "--channel", "nope", "hi")
	fails("empty send", []string{"nothing to send"}, "send", "--data", a.dir, "")
	for _, code := range []string{"concord1-garbage", "hello"} {
		dir := filepath.Join(tm.root, "joiner")
		fails("join with invite "+code, []string{"invite"}, "join", "--data", dir, "--name", "j", "--invite", code, "--listen", loopback)
		if node.HasMember(dir) {
			t.Errorf("a refused join (invite %q) left a data dir behind", code)
		}
	}
	fails("init on an existing data dir", []string{"already"}, "init", "--data", a.dir, "--name", "again", "--listen", loopback)
	fails("second run on a running data dir", []string{"in use"}, "run", "--data", a.dir)

	// The member is unharmed by all of that and still sends.
	if _, err := cli(t, "send", "--data", a.dir, "still fine"); err != nil {
		t.Fatalf("member broken by bad input: %v", err)
	}
	st, err := a.status()
	if err != nil || st.Name != "a" {
		t.Fatalf("status after bad input: %+v, %v", st, err)
	}

	// A stopped member: clients say how to start it.
	if err := a.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	fails("send with the member stopped", []string{"concord run --data " + a.dir}, "send", "--data", a.dir, "hello?")
	fails("send to a dir that is no member", []string{"concord init"}, "send", "--data", filepath.Join(tm.root, "nobody"), "hello?")
}

// TestProcessLeaderKilledTenTimes SIGKILLs the leader under load ten times
// in a row (restarting it each time) and checks after every round that no
// acknowledged message is lost, duplicated or reordered on any member.
func TestProcessLeaderKilledTenTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts member processes")
	}
	tm := newProcTeam(t, "a", "b", "c")
	var all []attempt
	for round := range 10 {
		victim := tm.leader()
		var acked atomic.Int64
		var loadDone atomic.Bool
		var attempts []attempt
		var wg sync.WaitGroup
		wg.Go(func() {
			defer loadDone.Store(true)
			attempts, _ = procSendLoad(t, tm.procs, fmt.Sprintf("r%d", round), 2, 5, 5*time.Second, &acked)
		})
		testutil.WaitFor(t, 30*time.Second, "a few acknowledged sends before the kill", func() bool {
			return acked.Load() >= 3 || loadDone.Load()
		})
		victim.kill()
		wg.Wait()
		victim.start()
		tm.waitVoters(3)
		all = append(all, attempts...)
		r := checkHistories(all, tm.waitConverged())
		t.Logf("round %d (killed %s): %v", round+1, victim.name, r)
		if !r.OK() {
			t.Fatalf("round %d broke the promise: %v", round+1, r)
		}
	}
}

// TestProcessOutboxWithoutQuorum drives the outbox through the CLI: with two
// of three members stopped, `send --no-wait` queues, `outbox` lists the
// message, `status` shows no leader and the queued count, a waiting `send`
// fails saying the message is queued; after the others restart everything is
// delivered exactly once.
func TestProcessOutboxWithoutQuorum(t *testing.T) {
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
	queued, err := cli(t, "send", "--data", a.dir, "--no-wait", "typed without quorum")
	if err != nil {
		t.Fatal(err)
	}
	queued = strings.TrimSpace(queued)
	_, err = cli(t, "send", "--data", a.dir, "--timeout", "1s", "waits and gives up")
	if err == nil || !strings.Contains(err.Error(), "queued") {
		t.Fatalf("a send without quorum: %v, want a non-zero exit saying it is queued", err)
	}
	testutil.WaitFor(t, 10*time.Second, "status to show no leader", func() bool {
		st, err := a.status()
		return err == nil && st.Leader == "" && st.Outbox != nil && *st.Outbox == 2
	})
	out, err := cli(t, "outbox", "--data", a.dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, queued) || !strings.Contains(out, `"state":"queued"`) {
		t.Fatalf("outbox does not list %s as queued:\n%s", queued, out)
	}
	for _, p := range tm.procs[1:] {
		p.start()
	}
	tm.waitVoters(3)
	testutil.WaitFor(t, 30*time.Second, "the outbox to drain", func() bool {
		out, err := cli(t, "outbox", "--data", a.dir, "--json")
		return err == nil && strings.TrimSpace(out) == ""
	})
	hist := tm.waitConverged()
	for name, h := range hist {
		n := 0
		for _, id := range h {
			if id == queued {
				n++
			}
		}
		if n != 1 || len(h) != 2 {
			t.Fatalf("%s: queued message present %d times, %d messages in all (want 1 and 2)", name, n, len(h))
		}
	}
}
