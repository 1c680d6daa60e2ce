package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/storage"
)

// digestEvery is how often the members of TestClusterFindsDivergedMember
// compare digests.
const digestEvery = 200 * time.Millisecond

// TestClusterFindsDivergedMember checks that three members agree after
// traffic, then changes one member's state behind the team's back (its
// store applies an entry the log never had) and waits until the other two
// report it as diverged and it reports itself diverged, at that entry's
// index.
func TestClusterFindsDivergedMember(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	// Restart every member with a short comparison period.
	for i := range c.nodes {
		if err := c.nodes[i].Close(); err != nil {
			t.Fatal(err)
		}
		c.nodes[i] = nil
	}
	for i, dir := range c.dirs {
		c.nodes[i] = startNodeCfg(t, Config{Dir: dir, Timing: c.timing, NTP: noNTP, DigestInterval: digestEvery})
	}
	c.waitVoters(3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := range 10 {
		if _, err := c.nodes[i%3].Send(ctx, "general", fmt.Sprintf("before %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.waitConverged()
	applied := c.nodes[0].store.AppliedIndex()
	testutil.WaitFor(t, 30*time.Second, "all members consistent at a common index", func() bool {
		for _, n := range c.nodes {
			st := n.Status().Consistency
			if st.State != "ok" || st.CheckedIndex < applied || len(st.Peers) != 2 {
				return false
			}
			for _, p := range st.Peers {
				if p.State != "ok" {
					return false
				}
			}
		}
		return true
	})

	// The odd one out is a follower, so the team keeps its leader.
	odd := (c.leader() + 1) % 3
	bad := c.nodes[odd]
	var at uint64
	testutil.WaitFor(t, 10*time.Second, "an entry applied on one member only", func() bool {
		at = bad.store.AppliedIndex() + 1
		res, err := bad.store.Apply([]storage.Entry{{Index: at, CommittedAt: time.Now(),
			Ops: []storage.Op{{Kind: storage.OpCreateChannel, By: bad.ID().String(), Channel: "rogue"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0] != nil // nil: raft applied that index first; try the next
	})
	t.Logf("m%d applied entry %d on its own", odd, at)
	// The team's own entry at that index, which the odd member skips.
	for i := range 3 {
		if _, err := c.nodes[(odd+1)%3].Send(ctx, "general", fmt.Sprintf("after %d", i)); err != nil {
			t.Fatal(err)
		}
	}

	oddID := bad.ID()
	testutil.WaitFor(t, 30*time.Second, "the odd member found by everyone", func() bool {
		for i, n := range c.nodes {
			st := n.Status().Consistency
			if i == odd {
				if st.State != "diverged" || st.DivergedAt != at {
					return false
				}
				continue
			}
			if st.State != "ok" {
				return false
			}
			found := false
			for _, p := range st.Peers {
				switch {
				case p.ID == oddID:
					found = p.State == "diverged" && p.DivergedAt == at
				case p.State != "ok":
					return false
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	b, _ := json.Marshal(bad.Status().Consistency)
	t.Logf("odd member's status: %s", b)
	b, _ = json.Marshal(c.nodes[(odd+1)%3].Status().Consistency)
	t.Logf("another member's status: %s", b)

	// What docs/operations.md says to do: repair --from-team on the
	// stopped member; it takes the team's state and agrees again.
	if err := bad.Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[odd] = nil
	stateAside, raftAside, err := ResetFromTeam(c.dirs[odd], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("repair --from-team: %v", err)
	}
	t.Logf("repair --from-team set aside %s and %s", stateAside, raftAside)
	c.nodes[odd] = startNodeCfg(t, Config{Dir: c.dirs[odd], Timing: c.timing, NTP: noNTP, DigestInterval: digestEvery})
	c.waitConverged()
	if _, err := c.nodes[odd].store.Channel("rogue"); err == nil {
		t.Error("the repaired member still has the channel only it applied")
	}
	applied = c.nodes[0].store.AppliedIndex()
	testutil.WaitFor(t, 30*time.Second, "every member consistent again after the repair", func() bool {
		for _, n := range c.nodes {
			st := n.Status().Consistency
			if st.State != "ok" || st.CheckedIndex < applied {
				return false
			}
			for _, p := range st.Peers {
				if p.State != "ok" {
					return false
				}
			}
		}
		return true
	})
}
