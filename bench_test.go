package main

import (
	"concord/consensus"
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
// hashicorp/raft over TCP with raft-boltdb in the same run, and prints the
// ratios (only same-run ratios mean anything on a shared machine).
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	c := newTestClusterWith(b, 3, consensus.Timing{})
	bl, err := bench.StartBaseline(ctx, b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	defer bl.Close()
	payload := []byte(strings.Repeat("x", 256))
	text := string(payload)

	var rows []bench.Row
	for _, conc := range []int{1, 16, 256} {
		var baseline, send, commit bench.Result
		b.Run(fmt.Sprintf("raft/C=%d", conc), func(b *testing.B) {
			baseline = runLoad(b, conc, func(ctx context.Context) error { return bl.Apply(ctx, payload) })
		})
		// What a user gets: durable outbox write, then commit.
		b.Run(fmt.Sprintf("concord/C=%d", conc), func(b *testing.B) {
			n := c.nodes[max(c.leader(), 0)]
			send = runLoad(b, conc, func(ctx context.Context) error {
				_, err := n.Send(ctx, "general", text)
				return err
			})
		})
		// The replication engine alone (group commit, no outbox): what the
		// outbox is built on.
		b.Run(fmt.Sprintf("concord-commit/C=%d", conc), func(b *testing.B) {
			n := c.nodes[max(c.leader(), 0)]
			commit = runLoad(b, conc, func(ctx context.Context) error {
				env := storage.Envelope{ID: newMessageID(), Author: n.ID().String(), Channel: "general",
					Text: text, SentAt: time.Now()}
				_, _, err := n.replica.Submit(ctx, storage.Op{Kind: storage.OpMessage, Message: &env})
				return err
			})
		})
		if baseline.Msgs > 0 && send.Msgs > 0 { // both ran (not filtered out by -bench)
			rows = append(rows, bench.Row{Name: "send (durable outbox + commit)", C: conc, Concord: send, Baseline: baseline})
		}
		if baseline.Msgs > 0 && commit.Msgs > 0 {
			rows = append(rows, bench.Row{Name: "commit only (replication engine)", C: conc, Concord: commit, Baseline: baseline})
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
		})
	}
	fmt.Printf("\n%s\n", bench.FormatTable(rows))
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
