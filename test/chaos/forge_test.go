package chaos

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAttackForgingLeader: m3 runs modified code (the concord_forge build)
// that, while it leads, commits beside every batch ops in other members'
// names: messages, an edit of another's message, making itself an admin in
// m1's name, removing a member in m1's name, with the victim named as
// signer, with its own valid signature, or with none. m3 is made leader (the
// leaders before it are paused until it wins an election) while m1 and m2
// chat. Every member must refuse every forged op: the honest members'
// histories stay identical and complete, m3 stays a plain member, nobody is
// removed, and `concord verify` on the honest members finds nothing wrong.
func TestAttackForgingLeader(t *testing.T) {
	requireDocker(t)
	tm := newTeam(t, 3, imageTag)
	m1, m2, m3 := tm.members[0], tm.members[1], tm.members[2]
	// m3's app is replaced by the forging build, on the same data dir.
	if _, err := docker(tm.ctx, "rm", "-f", m3.container); err != nil {
		t.Fatal(err)
	}
	args := tm.runArgs(m3, forgeBuild.get(t))
	img := len(args) - 6 // image, run, --data, /data, --log-level, info
	args = append(append(append([]string{}, args[:img]...), "-e", "CONCORD_FORGE=1"), args[img:]...)
	if _, err := docker(tm.ctx, args...); err != nil {
		t.Fatal(err)
	}
	tm.waitReady(m3)
	tm.events.add("m3 runs the forging build")

	_, finish := tm.attackLoad([]*member{m1, m2}, 2, "forge")
	// Pause whoever leads until m3 wins an election.
	tm.waitFor(2*time.Minute, "m3 to lead", func() (bool, string) {
		l := tm.waitLeader()
		if l == m3 {
			return true, ""
		}
		if err := tm.pause(l); err != nil {
			return false, err.Error()
		}
		tm.hold(3 * time.Second)
		if err := tm.unpause(l); err != nil {
			return false, err.Error()
		}
		tm.hold(2 * time.Second)
		return tm.leader() == m3, fmt.Sprintf("%s led", l.name)
	})
	// While m3 leads, each member logs every forged op it refuses.
	tm.waitFor(2*time.Minute, "every member to refuse forged ops of every kind", func() (bool, string) {
		var missing []string
		for _, m := range tm.members {
			logs, err := dockerLogs(tm.ctx, m.container)
			if err != nil {
				return false, err.Error()
			}
			for _, kind := range []string{"kind=1 ", "kind=7 ", "kind=5 ", "kind=4 "} {
				if !strings.Contains(refusals(logs), kind) {
					missing = append(missing, m.name+" "+kind)
				}
			}
		}
		return len(missing) == 0, fmt.Sprintf("not yet refused: %v", missing)
	})
	finish()
	if bad := tm.checkDigests(); bad > 0 {
		t.Errorf("%d members' state digests disagree", bad)
	}
	for _, m := range []*member{m1, m2, m3} {
		for _, r := range tm.historyRows(m) {
			if strings.Contains(r.Text, "forged") || strings.HasPrefix(r.ID, "forged-") {
				t.Errorf("%s holds a forged message: %+v", m.name, r)
			}
		}
		out, err := tm.cli(m, "members", "--json")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for dec := json.NewDecoder(strings.NewReader(out)); dec.More(); n++ {
			var row struct{ ID, Role string }
			if err := dec.Decode(&row); err != nil {
				t.Fatal(err)
			}
			if row.ID == m3.id && row.Role == "admin" {
				t.Errorf("%s: the forger became an admin", m.name)
			}
		}
		if n != 3 {
			t.Errorf("%s lists %d members after the forged removals, want 3", m.name, n)
		}
	}
	for _, m := range []*member{m1, m2} {
		out, err := tm.cli(m, "verify", "--json")
		var ver struct {
			Checked int      `json:"checked"`
			Failed  []string `json:"failed"`
		}
		if err != nil || json.Unmarshal([]byte(out), &ver) != nil || ver.Checked == 0 || len(ver.Failed) != 0 {
			t.Errorf("verify on %s: %s (%v)", m.name, out, err)
		}
		t.Logf("verify on %s: %s", m.name, strings.TrimSpace(out))
	}
}

// refusals keeps the log lines of committed ops refused for their signature.
func refusals(logs string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "committed op refused") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
