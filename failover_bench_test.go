package main

import (
	"concord/consensus"
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
