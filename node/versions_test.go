package node

import (
	"context"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/version"
)

// TestMembersSayTheirRelease: members learn each other's release over
// /concord/version/1.0.0 (members --json, team-version), and a member on an
// older release that counts (a voter) holds a raise of the team version back.
func TestMembersSayTheirRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n := c.nodes[0]
	testutil.WaitFor(t, 20*time.Second, "every member's release known to m0", func() bool {
		ms, err := n.Members(ctx)
		if err != nil || len(ms) != 3 {
			return false
		}
		for _, m := range ms {
			if m.Release != version.Release {
				return false
			}
		}
		return true
	})
	tv, err := n.TeamVersion(ctx)
	if err != nil || tv.Team != version.Protocol || len(tv.Members) != 3 {
		t.Fatalf("team version: %v %+v", err, tv)
	}
	for _, m := range tv.Members {
		if m.HoldsBack || !m.Counts {
			t.Errorf("%s: counts %v, holds back %v; want it to count and not hold back", m.Name, m.Counts, m.HoldsBack)
		}
	}
	// m1 on a release before 0.2.0 (it would answer probes, not the
	// version protocol): it is a voter, so it holds a raise back.
	old := Release{ProtocolMin: 1, ProtocolMax: 1, Seen: time.Now().UTC()}
	if err := n.versions.note(c.ids[1].String(), old); err != nil {
		t.Fatal(err)
	}
	target, members := n.upgradeTarget()
	if target != 1 {
		t.Fatalf("upgrade target with a member on protocol 1: %d, want 1", target)
	}
	for _, m := range members {
		if want := m.ID == c.ids[1].String(); m.HoldsBack != want {
			t.Errorf("%s holds back %v, want %v", m.Name, m.HoldsBack, want)
		}
	}
	if ms, _ := n.Members(ctx); ms[1].Release != "before 0.2.0" && ms[0].Release != "before 0.2.0" && ms[2].Release != "before 0.2.0" {
		t.Errorf("members show no 'before 0.2.0': %+v", ms)
	}
	// What it learnt survives a restart (DATA/versions.json).
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[0] = c.start(c.dirs[0])
	if r, ok := c.nodes[0].versions.get(c.ids[2].String()); !ok || r.Release != version.Release {
		t.Fatalf("what m0 knew of m2 after a restart: %+v %v", r, ok)
	}
}
