package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"concord/control"
	"concord/internal/releases"
	"concord/internal/testutil"
	"concord/version"
)

// The previous release (built from its tag) beside this tree's
// (docs/operations.md, "Upgrading a team"): they chat together while the
// team version is the old one; a rolling upgrade under load loses nothing;
// the team version rises by itself once the last member runs this release,
// and signed ops (new in this release) are checked on every member.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the previous release and runs processes")
	}
	old := buildPrevious(t)
	for _, names := range [][]string{{"ann", "bob", "cat"}, {"ann", "bob", "cat", "dan", "eve"}} {
		t.Run(fmt.Sprintf("%d members", len(names)), func(t *testing.T) { rollingUpgrade(t, old, names) })
	}
}

func rollingUpgrade(t *testing.T, old string, names []string) {
	tm := newProcTeamOf(t, old, names...)
	requireTeamVersion(t, tm.procs, prevProtocol)

	// Mixed: ann on this release, the others on the previous one.
	upgrade(t, tm.procs[0])
	attempts, failures := procSendLoad(t, tm.procs, "mixed", 1, 10, 10*time.Second, nil)
	logFailures(t, "mixed team", failures)
	r := checkHistories(attempts, tm.waitConverged())
	t.Logf("mixed team: %v", r)
	if !r.OK() || r.Acked != len(attempts) {
		t.Fatalf("old and new members chatting together: %v", r)
	}
	requireTeamVersion(t, tm.procs, prevProtocol)

	// Rolling upgrade of the others under load from every member.
	var wg sync.WaitGroup
	var load []attempt
	wg.Add(1)
	go func() {
		defer wg.Done()
		load, failures = procSendLoad(t, tm.procs, "rolling", 1, 40, 10*time.Second, nil)
	}()
	var last time.Time
	for _, p := range tm.procs[1:] {
		upgrade(t, p)
		last = time.Now()
	}
	wg.Wait()
	logFailures(t, "rolling upgrade", failures)
	attempts = append(attempts, load...)
	r = checkHistories(attempts, tm.waitConverged())
	t.Logf("rolling upgrade: %v", r)
	if !r.OK() {
		t.Fatalf("the rolling upgrade broke a promise: %v", r)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Divergences != 0 {
		t.Fatalf("rolling upgrade: lost %d, duplicated %d, divergences %d", r.Lost, r.Duplicated, r.Divergences)
	}
	requireTeamVersion(t, tm.procs, version.Protocol)
	t.Logf("team version %d on every member %v after the last member's upgrade", version.Protocol, time.Since(last).Round(time.Millisecond))

	// Every member signs what it sends now, and checks what others sent.
	id := strings.TrimSpace(mustCLI(t, "send", "--data", tm.procs[1].dir, "pin me"))
	mustCLI(t, "pin", "--data", tm.procs[2].dir, id)
	for _, p := range tm.procs {
		testutil.WaitFor(t, 10*time.Second, p.name+" to list the pin", func() bool {
			out, err := cli(t, "pins", "--data", p.dir, "--json")
			return err == nil && strings.Contains(out, id)
		})
		requireVerified(t, p, 2)
	}
}

// prevProtocol is the newest protocol of the previous release.
const prevProtocol = version.Protocol - 1

// prevRelease is the previous release's name ("0.3.0").
var prevRelease = strings.TrimPrefix(releases.Previous.Tag, "v")

// requireVerified runs `concord verify --json` on p: at least min signed
// ops checked, none failed.
func requireVerified(t *testing.T, p *proc, min int) {
	t.Helper()
	out, err := cli(t, "verify", "--data", p.dir, "--json")
	var v struct {
		Checked  int      `json:"checked"`
		Unsigned int      `json:"unsigned_messages"`
		Failed   []string `json:"failed"`
	}
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Checked < min || len(v.Failed) != 0 {
		t.Fatalf("verify on %s: %v\n%s", p.name, err, out)
	}
	t.Logf("verify on %s: %d signed ops checked, %d messages from before the team signed", p.name, v.Checked, v.Unsigned)
}

// TestOldMemberBlocksThenUpgrades: a member of the previous release that
// was offline while the others upgraded and an admin forced the team
// version up stops at the first entry it cannot read, says which release it
// needs, keeps what is typed in its outbox, and once upgraded catches up
// and delivers it exactly once. A join from the previous release is
// refused, and so is going back to it on an upgraded data dir.
func TestOldMemberBlocksThenUpgrades(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the previous release and runs processes")
	}
	old := buildPrevious(t)
	tm := newProcTeamOf(t, old, "ann", "bob", "cat")
	ann, bob, cat := tm.procs[0], tm.procs[1], tm.procs[2]
	before := strings.TrimSpace(mustCLI(t, "send", "--data", cat.dir, "before the upgrade"))
	tm.waitConverged()
	if err := cat.stop(); err != nil {
		t.Fatal(err)
	}
	upgrade(t, ann)
	upgrade(t, bob)

	// cat, a voter seen minutes ago, holds the raise back.
	var tv control.TeamVersion
	testutil.WaitFor(t, 15*time.Second, "team-version to name cat as holding it back", func() bool {
		out, err := cli(t, "team-version", "--data", ann.dir, "--json")
		if err != nil || json.Unmarshal([]byte(out), &tv) != nil {
			return false
		}
		for _, m := range tv.Members {
			if m.Name == "cat" && m.HoldsBack {
				return true
			}
		}
		return false
	})
	if tv.TeamVersion != prevProtocol {
		t.Fatalf("team version %d with cat behind, want %d", tv.TeamVersion, prevProtocol)
	}
	out, err := cli(t, "team-version", "--data", ann.dir)
	if err != nil || !strings.Contains(out, "held back by cat") {
		t.Fatalf("team-version: %v\n%s", err, out)
	}
	// The admin forces it; ops are signed at once.
	mustCLI(t, "team-version", "--data", ann.dir, "--raise")
	pinned := strings.TrimSpace(mustCLI(t, "send", "--data", bob.dir, "pinned while cat is away"))
	mustCLI(t, "pin", "--data", ann.dir, pinned)

	// A join on the previous release is refused, naming the release.
	code := strings.TrimSpace(mustCLI(t, "invite", "--data", ann.dir))
	_, err = runCLI(t, old, "", "join", "--data", filepath.Join(tm.root, "eve"), "--name", "eve", "--invite", code,
		"--listen", loopback, "--ntp", noNTP[0])
	needs := "this team needs Concord " + version.Release + " or later; you have " + prevRelease
	if ce := (*cliError)(nil); !errors.As(err, &ce) || !strings.Contains(ce.stderr, needs) {
		t.Fatalf("join from the previous release: %v, want %q", err, needs)
	} else {
		t.Logf("join from the previous release: %s", strings.TrimSpace(ce.stderr))
	}

	// cat comes back on the previous release: it stops at the raise.
	cat.start()
	var st control.Status
	testutil.WaitFor(t, 30*time.Second, "cat to say it needs an upgrade", func() bool {
		st, err = cat.status()
		return err == nil && st.BlockedOnUpgrade != nil
	})
	t.Logf("cat on the previous release: blocked_on_upgrade %q, applied %d of %d", *st.BlockedOnUpgrade, st.AppliedIndex, st.CommitIndex)
	if *st.BlockedOnUpgrade != version.Release {
		t.Fatalf("cat is blocked on %q, want %q", *st.BlockedOnUpgrade, version.Release)
	}
	_, err = runCLI(t, old, "", "send", "--data", cat.dir, "typed on the old release")
	sentence := "this team now needs Concord " + version.Release + " or later; you have " + prevRelease
	var ce *cliError
	if !errors.As(err, &ce) || ce.code == 0 || !strings.Contains(ce.stderr, sentence) {
		t.Fatalf("send on the blocked member: %v, want a non-zero exit saying %q", err, sentence)
	}
	var queued []control.OutboxRow
	if out, err := runCLI(t, old, "", "outbox", "--data", cat.dir, "--json"); err == nil {
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var row control.OutboxRow
			if dec.Decode(&row) == nil {
				queued = append(queued, row)
			}
		}
	}
	if len(queued) != 1 {
		t.Fatalf("cat's outbox while blocked: %+v, want the message", queued)
	}
	t.Logf("send on cat said: %s", strings.TrimSpace(ce.stderr))

	// Upgraded, it catches up and delivers the queued message once (its
	// drainer may first send it unsigned, before it has read the raise to
	// a signing version again, and be told to send it again, signed).
	upgrade(t, cat)
	testutil.WaitFor(t, 30*time.Second, "cat's outbox to drain", func() bool {
		st, err := cat.status()
		return err == nil && st.Outbox != nil && *st.Outbox == 0
	})
	hist := tm.waitConverged()
	for name, ids := range hist {
		n := 0
		for _, id := range ids {
			if id == queued[0].ID {
				n++
			}
		}
		if n != 1 || ids[0] != before {
			t.Errorf("%s has the queued message %d times (history %d long, first %s)", name, n, len(ids), ids[0])
		}
	}
	t.Logf("after cat's upgrade: %d messages on every member, the queued one once", len(hist["ann"]))
	out, err = cli(t, "pins", "--data", cat.dir, "--json")
	if err != nil || !strings.Contains(out, pinned) {
		t.Fatalf("cat's pins after its upgrade: %v %q", err, out)
	}
	requireVerified(t, cat, 2) // the raise, the message and the pin, signed while cat was away

	// Back to the previous release on the upgraded data dir: refused.
	if err := cat.stop(); err != nil {
		t.Fatal(err)
	}
	_, err = runCLI(t, old, "", "status", "--data", cat.dir) // no member running: nothing to ask
	if err == nil {
		t.Fatal("status answered with cat stopped")
	}
	cat.bin = old
	refused := fmt.Sprintf("this data dir was used by Concord %s; this is %s", version.Release, prevRelease)
	if out, err := runCLI(t, old, "", "run", "--headless", "--data", cat.dir); !errors.As(err, &ce) || !strings.Contains(ce.stderr, refused) {
		t.Fatalf("the previous release on an upgraded data dir: %v\n%s, want %q", err, out, refused)
	}
	t.Logf("the previous release on cat's upgraded data dir: %s", strings.TrimSpace(ce.stderr))
	if b, err := os.ReadFile(filepath.Join(cat.dir, "config.json")); err != nil || !strings.Contains(string(b), `"release": "`+version.Release+`"`) {
		t.Fatalf("the refused start changed config.json: %v\n%s", err, b)
	}
}

// upgrade stops p and starts it again on this tree's binary.
func upgrade(t *testing.T, p *proc) {
	t.Helper()
	if p.running() {
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
	}
	p.bin = buildConcord(t)
	p.note("upgraded to this tree's binary")
	p.start()
}

// requireTeamVersion waits until every running member of ps reports the
// team version want (members of the previous release report none).
func requireTeamVersion(t *testing.T, ps []*proc, want int) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("team version %d on every member", want), func() bool {
		for _, p := range ps {
			st, err := p.status()
			if err != nil || (st.Release != "" && st.TeamVersion != want) {
				return false
			}
		}
		return true
	})
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cli(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
