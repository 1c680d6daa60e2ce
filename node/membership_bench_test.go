package node

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"concord/consensus"
	"concord/internal/testutil"
)

// BenchmarkJoinCatchUp fills a 3-member team with 10,000 messages and
// measures how long a new member takes from `join` to having applied the
// whole history (an InstallSnapshot of the state plus the log tail).
func BenchmarkJoinCatchUp(b *testing.B) {
	const history = 10000
	c := newTestClusterWith(b, 3, consensus.Timing{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for k := 0; k < history; k += 500 {
		for j := range 500 {
			if _, err := c.nodes[0].SendNoWait(ctx, "general", fmt.Sprintf("history #%d", k+j)); err != nil {
				b.Fatal(err)
			}
		}
		testutil.WaitFor(b, time.Minute, "the batch to commit", func() bool { return c.nodes[0].drain.Queued() == 0 })
	}
	c.waitConverged()
	var times []time.Duration
	root := b.TempDir()
	for i := range b.N {
		code, err := c.nodes[0].Invite(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		dir := filepath.Join(root, fmt.Sprintf("late%d", i))
		start := time.Now()
		if _, err := Join(ctx, dir, fmt.Sprintf("late%d", i), code, []string{loopback}, nil); err != nil {
			b.Fatal(err)
		}
		n := c.start(dir)
		target := c.nodes[0].store.AppliedIndex()
		testutil.WaitFor(b, 2*time.Minute, "the new member to catch up", func() bool {
			ch, err := n.store.Channel("general")
			return err == nil && ch.Messages >= history && n.store.AppliedIndex() >= target
		})
		times = append(times, time.Since(start))
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "catchup_ms")
	fmt.Printf("\na new member caught up a %d-message history in %v (median of %d; join + start + apply)\n",
		history, times[len(times)/2].Round(time.Millisecond), len(times))
}

// BenchmarkVoterReplacement crashes a voter (not the leader) of a 5-member
// team for good, once every member has been stable for the stabilization
// time, and measures how long until a non-voter holds its seat and the dead
// voter is out of the configuration.
func BenchmarkVoterReplacement(b *testing.B) {
	var times []time.Duration
	for range b.N {
		timing := consensus.Timing{Stabilization: 3 * time.Second}
		c := newTestClusterWith(b, 5, timing)
		l := c.leader()
		testutil.WaitFor(b, time.Minute, "every member stable", func() bool {
			h := c.nodes[l].replica.Healthy()
			for _, id := range c.ids {
				if since, ok := h[id.String()]; !ok || time.Since(since) < timing.Stabilization {
					return false
				}
			}
			return true
		})
		st := c.nodes[l].Status()
		victim := -1
		for i, id := range c.ids {
			if i != l && slices.Contains(st.Voters, id.String()) {
				victim = i
				break
			}
		}
		dead := c.ids[victim].String()
		c.crash(victim)
		start := time.Now()
		testutil.WaitFor(b, time.Minute, "the dead voter replaced and retired", func() bool {
			s := c.nodes[l].Status()
			return len(s.Voters) == 3 && !slices.Contains(append(s.Voters, s.Nonvoters...), dead)
		})
		times = append(times, time.Since(start))
		c.closeAll()
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "replace_ms")
	fmt.Printf("\na crashed voter of 5 members was replaced and retired in %v (median of %d)\n",
		times[len(times)/2].Round(time.Millisecond), len(times))
}
