package node

import (
	"concord/consensus"
	"concord/internal/testutil"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"concord/bench"
	"concord/storage"
)

// BenchmarkCommit measures commit throughput and latency of 256-byte
// messages on a 3-member team on loopback, and the same workload on raw
// hashicorp/raft over TCP with raft-boltdb behind a log cache, in a child
// process, in the same run, and prints the
// ratios (only same-run ratios mean anything on a shared machine).
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	c := newTestClusterWith(b, 3, consensus.Timing{})
	e := newEngineCluster(b, 3)
	bl, err := bench.StartBaselineProcess(ctx, b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	defer bl.Close()
	text := strings.Repeat("x", 256)

	var rows []bench.Row
	var lags []string
	for _, conc := range []int{1, 16, 256} {
		var baseline, send, commit, engine bench.Result
		var sendLag, commitLag time.Duration // the last call's: b.Run calls each body more than once
		b.Run(fmt.Sprintf("raft/C=%d", conc), func(b *testing.B) {
			baseline = baselineRound(b, bl, conc, max(b.N, conc))
			b.ReportMetric(baseline.PerSec, "msgs/s")
			b.ReportMetric(float64(baseline.P50.Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(baseline.P99.Microseconds())/1000, "p99_ms")
		})
		// What a user gets: durable outbox write, then commit.
		b.Run(fmt.Sprintf("concord/C=%d", conc), func(b *testing.B) {
			n := c.nodes[max(c.leader(), 0)]
			send = runLoad(b, conc, func(ctx context.Context) error {
				_, err := n.Send(ctx, "general", text)
				return err
			})
			sendLag = settle(b, c, &send)
		})
		// The replication engine (group commit, no outbox) in members
		// that also index every message for search, as members do.
		b.Run(fmt.Sprintf("concord-commit/C=%d", conc), func(b *testing.B) {
			commit = runLoad(b, conc, submitter(c, text))
			commitLag = settle(b, c, &commit)
		})
		// The replication engine alone: members whose search index is not
		// fed, so only Raft, the log and the state store use the CPU.
		b.Run(fmt.Sprintf("concord-engine/C=%d", conc), func(b *testing.B) {
			engine = runLoad(b, conc, submitter(e, text))
			settle(b, e, &engine)
		})
		// The search index lags behind commit (searchLag, then its own
		// pace): counting the time until it has caught up gives the rate a
		// member sustains with indexing included.
		for _, r := range []struct {
			name string
			res  bench.Result
			lag  time.Duration
		}{{"send", send, sendLag}, {"commit", commit, commitLag}} {
			if r.res.Msgs > 0 {
				lags = append(lags, fmt.Sprintf("| %s | %d | %.1f | %v | %.1f |", r.name, conc, r.res.PerSec,
					r.lag, float64(r.res.Msgs)/(r.res.Elapsed+r.lag).Seconds()))
			}
		}
		for _, r := range []struct {
			name string
			res  bench.Result
		}{
			{"send (durable outbox + commit)", send},
			{"commit only (engine + search index)", commit},
			{"commit only (engine alone)", engine},
		} {
			if baseline.Msgs > 0 && r.res.Msgs > 0 { // both ran (not filtered out by -bench)
				rows = append(rows, bench.Row{Name: r.name, C: conc, Concord: r.res, Baseline: baseline})
			}
		}
	}
	// Sends through a follower add the forwarding hop.
	for _, conc := range []int{1, 256} {
		b.Run(fmt.Sprintf("concord-follower/C=%d", conc), func(b *testing.B) {
			n := c.nodes[(max(c.leader(), 0)+1)%3]
			runLoad(b, conc, func(ctx context.Context) error {
				_, err := n.Send(ctx, "general", text)
				return err
			})
			settle(b, c, nil)
		})
	}
	fmt.Printf("\n%s\n", bench.FormatTable(rows))
	if len(lags) > 0 {
		fmt.Printf("full members: time from the last commit until every member had applied and indexed everything\n\n"+
			"| workload | C | msgs/s | indexed after | msgs/s until indexed |\n|---|--:|--:|--:|--:|\n%s\n", strings.Join(lags, "\n"))
	}
}

// submitter commits messages of text through the leader's replication
// engine (no outbox).
func submitter(c *testCluster, text string) func(context.Context) error {
	n := c.nodes[max(c.leader(), 0)]
	author := n.ID().String()
	return func(ctx context.Context) error {
		env := storage.Envelope{ID: newMessageID(), Author: author, Channel: "general",
			Text: text, SentAt: time.Now()}
		_, _, err := n.replica.Submit(ctx, storage.Op{Kind: storage.OpMessage, Message: &env})
		return err
	}
}

// settle waits until every member of c has applied everything committed
// and, when members feed their search index, indexed it too, and returns
// how long that took; the CPU used meanwhile is added to the run's r (nil:
// none). Each row is measured apart: the work one row left in the
// background (applying, indexing) must not run in the next row, nor in the
// baseline's.
func settle(b *testing.B, c *testCluster, r *bench.Result) time.Duration {
	b.Helper()
	start, cpu := time.Now(), bench.ProcessCPU()
	if r != nil {
		defer func() { r.CPU += bench.ProcessCPU() - cpu }()
	}
	c.waitConverged()
	if !c.noSearch {
		testutil.WaitFor(b, time.Minute, "search indexes to catch up", func() bool {
			for _, n := range c.nodes {
				if n.search.Indexed() < n.store.AppliedIndex() {
					return false
				}
			}
			return true
		})
	}
	return time.Since(start).Round(time.Millisecond)
}

func runLoad(b *testing.B, conc int, send func(context.Context) error) bench.Result {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	r := bench.Run(ctx, conc, max(b.N, conc), func(ctx context.Context) error {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return send(sctx)
	})
	b.StopTimer()
	if r.Errors > 0 {
		b.Fatalf("%d sends failed", r.Errors)
	}
	b.ReportMetric(r.PerSec, "msgs/s")
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99_ms")
	return r
}
