package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"concord/bench"
	"concord/consensus"
)

// BenchmarkCommitRounds interleaves short rounds of the raw raft baseline
// (in a child process of its own, log cache included) and Concord (baseline, commit engine, engine alone, send through the
// outbox, baseline, …) and reports the median of the per-round ratios: on
// a shared machine the load drifts within a run, and a ratio of two
// back-to-back rounds cancels most of that drift where one long run of
// each does not. After a Concord round its members finish applying and
// indexing before the next round starts, so that work is not left to slow
// the baseline's round; "until indexed" counts that time in the round's
// throughput, and the CPU per message counts that work in.
func BenchmarkCommitRounds(b *testing.B) {
	const rounds = 7
	ctx := context.Background()
	c := newTestClusterWith(b, 3, consensus.Timing{})
	e := newEngineCluster(b, 3)
	bl, err := bench.StartBaselineProcess(ctx, b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	defer bl.Close()
	payload := []byte(strings.Repeat("x", 256))
	sender := c.nodes[max(c.leader(), 0)]
	send := func(ctx context.Context) error {
		_, err := sender.Send(ctx, "general", string(payload))
		return err
	}
	var out strings.Builder
	for _, w := range []struct {
		conc, msgs int
	}{{1, 300}, {256, 20000}} {
		var p50, tput, itput, cpu, ep50, etput, ecpu, sp50, stput, scpu []float64
		var abs [4][]float64 // p50 in ms: baseline, engine + index, engine, send
		cpuRatio := func(r, base bench.Result) float64 {
			return float64(r.CPUPerMsg()) / float64(base.CPUPerMsg())
		}
		for range b.N {
			for range rounds {
				rb := baselineRound(b, bl, w.conc, w.msgs)
				rc := roundOf(b, w.conc, w.msgs, submitter(c, string(payload)))
				lag := settle(b, c, &rc)
				re := roundOf(b, w.conc, w.msgs, submitter(e, string(payload)))
				settle(b, e, &re)
				rs := roundOf(b, w.conc, w.msgs, send)
				settle(b, c, &rs)
				for i, r := range []bench.Result{rb, rc, re, rs} {
					abs[i] = append(abs[i], ms(r.P50))
				}
				p50 = append(p50, float64(rc.P50)/float64(rb.P50))
				tput = append(tput, rc.PerSec/rb.PerSec)
				itput = append(itput, float64(rc.Msgs)/(rc.Elapsed+lag).Seconds()/rb.PerSec)
				cpu = append(cpu, cpuRatio(rc, rb))
				ep50 = append(ep50, float64(re.P50)/float64(rb.P50))
				etput = append(etput, re.PerSec/rb.PerSec)
				ecpu = append(ecpu, cpuRatio(re, rb))
				sp50 = append(sp50, float64(rs.P50)/float64(rb.P50))
				stput = append(stput, rs.PerSec/rb.PerSec)
				scpu = append(scpu, cpuRatio(rs, rb))
			}
		}
		fmt.Fprintf(&out, "C=%-3d median p50: baseline %.2f ms, engine + search index %.2f ms, engine alone %.2f ms, send %.2f ms\n",
			w.conc, median(abs[0]), median(abs[1]), median(abs[2]), median(abs[3]))
		for _, r := range []struct {
			name, metric   string
			p50, tput, cpu []float64
		}{
			{"engine + search index", "", p50, tput, cpu},
			{"engine + search index, until indexed", "_indexed", p50, itput, cpu},
			{"engine alone", "_engine", ep50, etput, ecpu},
			{"send (durable outbox + commit)", "_send", sp50, stput, scpu},
		} {
			mp, mt, mc := median(r.p50), median(r.tput), median(r.cpu)
			b.ReportMetric(mp, fmt.Sprintf("p50_ratio%s_C%d", r.metric, w.conc))
			b.ReportMetric(mt, fmt.Sprintf("tput_ratio%s_C%d", r.metric, w.conc))
			b.ReportMetric(mc, fmt.Sprintf("cpu_ratio%s_C%d", r.metric, w.conc))
			fmt.Fprintf(&out, "C=%-3d %s, %d rounds of %d msgs: p50 ratio median %.2f (rounds %s); throughput ratio median %.2f (rounds %s); CPU/msg ratio median %.2f (rounds %s)\n",
				w.conc, r.name, len(r.p50), w.msgs, mp, fmtRatios(r.p50), mt, fmtRatios(r.tput), mc, fmtRatios(r.cpu))
		}
	}
	fmt.Printf("\ninterleaved rounds, concord/raw raft:\n%s", out.String())
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

// baselineRound runs one round of the raw-Raft baseline in its own
// process; its CPU is that process's alone.
func baselineRound(b *testing.B, bl *bench.BaselineProcess, conc, msgs int) bench.Result {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := bl.Round(ctx, conc, msgs, 256)
	if err != nil {
		b.Fatal(err)
	}
	if r.Errors > 0 {
		b.Fatalf("%d baseline sends failed", r.Errors)
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
