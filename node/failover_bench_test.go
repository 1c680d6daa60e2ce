package node

import (
	"concord/consensus"
	"concord/internal/testutil"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkFailover crashes the leader of a 3-member team 10 times and
// measures how long a member that keeps sending waits for its first commit
// under the new leader. Each trial brings the crashed member back.
func BenchmarkFailover(b *testing.B) {
	const trials = 10
	var times []time.Duration
	c := newTestClusterWith(b, 3, consensus.Timing{})
	for range b.N {
		times = times[:0]
		for range trials {
			l := c.leader()
			if l < 0 {
				b.Fatal("no leader")
			}
			survivor := c.nodes[(l+1)%3]
			c.crash(l)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := survivor.Send(ctx, "general", "after the crash")
			cancel()
			if err != nil {
				b.Fatalf("no commit after the leader crashed: %v", err)
			}
			times = append(times, time.Since(start))
			c.nodes[l] = c.start(c.dirs[l])
			c.waitVoters(3)
			c.waitConverged()
		}
	}
	slices.Sort(times)
	median := (times[trials/2-1] + times[trials/2]) / 2
	b.ReportMetric(float64(median.Milliseconds()), "median_ms")
	b.ReportMetric(float64(times[trials-1].Milliseconds()), "worst_ms")
	fmt.Printf("\nfailover after a leader crash, 3 members, %d trials: median %v, worst %v (all: %v)\n",
		trials, median.Round(time.Millisecond), times[trials-1].Round(time.Millisecond), times)
}

// BenchmarkOutboxDrain queues a backlog on a member cut off from the team
// and measures how fast it drains (through the forwarding path) once the
// member is reconnected.
func BenchmarkOutboxDrain(b *testing.B) {
	const backlog = 5000
	c := newTestClusterWith(b, 3, consensus.Timing{})
	var rates []float64
	for range b.N {
		m := (max(c.leader(), 0) + 1) % 3
		c.partition(m)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for k := range backlog {
			if _, err := c.nodes[m].SendNoWait(ctx, "general", fmt.Sprintf("backlog #%d", k)); err != nil {
				b.Fatal(err)
			}
		}
		cancel()
		start := time.Now()
		c.heal(m)
		testutil.WaitFor(b, time.Minute, "the backlog to drain", func() bool { return c.nodes[m].drain.Queued() == 0 })
		el := time.Since(start)
		rates = append(rates, backlog/el.Seconds())
		c.waitConverged()
	}
	b.ReportMetric(slices.Max(rates), "msgs/s")
	fmt.Printf("\noutbox drain: %d queued messages drained at %.0f msgs/s (includes reconnecting)\n", backlog, slices.Max(rates))
}

// BenchmarkCleanQuit measures the pause a member sees when the leader quits
// cleanly (leadership transfer), over 10 trials.
func BenchmarkCleanQuit(b *testing.B) {
	const trials = 10
	c := newTestClusterWith(b, 3, consensus.Timing{})
	var pauses []time.Duration
	for range b.N {
		pauses = pauses[:0]
		for range trials {
			l := c.leader()
			survivor := c.nodes[(l+1)%3]
			old := c.nodes[l]
			c.nodes[l] = nil
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- old.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := survivor.Send(ctx, "general", "during a clean quit")
			cancel()
			if err != nil {
				b.Fatalf("a send failed during a clean quit: %v", err)
			}
			pauses = append(pauses, time.Since(start))
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			c.nodes[l] = c.start(c.dirs[l])
			c.waitVoters(3)
			c.waitConverged()
		}
	}
	slices.Sort(pauses)
	median := (pauses[trials/2-1] + pauses[trials/2]) / 2
	b.ReportMetric(float64(median.Microseconds())/1000, "median_ms")
	b.ReportMetric(float64(pauses[trials-1].Microseconds())/1000, "worst_ms")
	fmt.Printf("\nclean quit of the leader, %d trials: median pause %v, worst %v\n", trials,
		median.Round(time.Millisecond), pauses[trials-1].Round(time.Millisecond))
}
