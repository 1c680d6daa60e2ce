package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"concord/bench"
	"concord/consensus"
	"concord/storage"
)

// BenchmarkCommitRounds interleaves short rounds of the raw raft baseline
// and Concord's commit engine (baseline, concord, baseline, concord, …) and
// reports the median of the per-round ratios: on a shared machine the load
// drifts within a run, and a ratio of two back-to-back rounds cancels most
// of that drift where one long run of each does not.
func BenchmarkCommitRounds(b *testing.B) {
	const rounds = 7
	ctx := context.Background()
	c := newTestClusterWith(b, 3, consensus.Timing{})
	bl, err := bench.StartBaseline(ctx, b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	defer bl.Close()
	payload := []byte(strings.Repeat("x", 256))
	n := c.nodes[max(c.leader(), 0)]
	commit := func(ctx context.Context) error {
		env := storage.Envelope{ID: newMessageID(), Author: n.ID().String(), Channel: "general",
			Text: string(payload), SentAt: time.Now()}
		_, _, err := n.replica.Submit(ctx, storage.Op{Kind: storage.OpMessage, Message: &env})
		return err
	}
	base := func(ctx context.Context) error { return bl.Apply(ctx, payload) }
	var out strings.Builder
	for _, w := range []struct {
		conc, msgs int
	}{{1, 300}, {256, 20000}} {
		var p50, tput []float64
		for range b.N {
			for range rounds {
				rb := roundOf(b, w.conc, w.msgs, base)
				rc := roundOf(b, w.conc, w.msgs, commit)
				p50 = append(p50, float64(rc.P50)/float64(rb.P50))
				tput = append(tput, rc.PerSec/rb.PerSec)
			}
		}
		mp, mt := median(p50), median(tput)
		b.ReportMetric(mp, fmt.Sprintf("p50_ratio_C%d", w.conc))
		b.ReportMetric(mt, fmt.Sprintf("tput_ratio_C%d", w.conc))
		fmt.Fprintf(&out, "C=%-3d %d rounds of %d msgs: concord/baseline p50 ratio median %.2f (rounds %s); throughput ratio median %.2f (rounds %s)\n",
			w.conc, len(p50), w.msgs, mp, fmtRatios(p50), mt, fmtRatios(tput))
	}
	fmt.Printf("\ninterleaved rounds, commit engine vs raw raft:\n%s", out.String())
}

func roundOf(b *testing.B, conc, msgs int, send func(context.Context) error) bench.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := bench.Run(ctx, conc, msgs, func(ctx context.Context) error {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return send(sctx)
	})
	if r.Errors > 0 {
		b.Fatalf("%d sends failed", r.Errors)
	}
	return r
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}
