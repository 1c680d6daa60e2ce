package node

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"concord/bench"
	"concord/consensus"
)

// BenchmarkSigning measures what signing and checking every op costs
// (docs/security.md): the send path (durable outbox, then commit) of a team
// that signs its ops (team version 4) against the same path of a team that
// does not yet (team version 3, Config.MaxTeamVersion), in interleaved
// rounds of the same run, sent from the leader and from a follower, at C=1
// and C=256. Both teams run in this process, so the CPU per message of
// either includes the other's idle cost alike. Ratios are signed ÷
// unsigned, medians over the rounds.
func BenchmarkSigning(b *testing.B) {
	const rounds = 6
	signed := newTestClusterOf(b, 3, &testCluster{})
	unsigned := newTestClusterOf(b, 3, &testCluster{teamVersion: consensus.SignProtocol - 1})
	for _, c := range []*testCluster{signed, unsigned} {
		b.Logf("team version %d", c.nodes[0].store.TeamVersion())
	}
	if signed.nodes[0].store.TeamVersion() < consensus.SignProtocol || unsigned.nodes[0].store.TeamVersion() >= consensus.SignProtocol {
		b.Fatal("the two teams are not on either side of the signing version")
	}
	payload := strings.Repeat("x", 256)
	sender := func(c *testCluster, follower bool) func(context.Context) error {
		i := max(c.leader(), 0)
		if follower {
			i = (i + 1) % len(c.nodes)
		}
		n := c.nodes[i]
		return func(ctx context.Context) error {
			_, err := n.Send(ctx, "general", payload)
			return err
		}
	}
	var out strings.Builder
	for _, w := range []struct {
		conc, msgs int
		follower   bool
	}{{1, 300, false}, {256, 20000, false}, {1, 300, true}, {256, 20000, true}} {
		from := "leader"
		if w.follower {
			from = "follower"
		}
		var cpu, tput, p50, p99 []float64
		var rs, ru []bench.Result
		for range b.N {
			for i := range rounds {
				var s, u bench.Result
				// Alternate which goes first, so neither always runs
				// right after the other's work.
				for k := range 2 {
					if (i+k)%2 == 0 {
						u = roundOf(b, w.conc, w.msgs, sender(unsigned, w.follower))
						settle(b, unsigned, &u)
					} else {
						s = roundOf(b, w.conc, w.msgs, sender(signed, w.follower))
						settle(b, signed, &s)
					}
				}
				rs, ru = append(rs, s), append(ru, u)
				cpu = append(cpu, float64(s.CPUPerMsg())/float64(u.CPUPerMsg()))
				tput = append(tput, s.PerSec/u.PerSec)
				p50 = append(p50, float64(s.P50)/float64(u.P50))
				p99 = append(p99, float64(s.P99)/float64(u.P99))
			}
		}
		suffix := fmt.Sprintf("_%s_C%d", from, w.conc)
		b.ReportMetric(median(cpu), "cpu_ratio"+suffix)
		b.ReportMetric(median(tput), "tput_ratio"+suffix)
		b.ReportMetric(median(p50), "p50_ratio"+suffix)
		b.ReportMetric(median(p99), "p99_ratio"+suffix)
		last := len(rs) - 1
		fmt.Fprintf(&out, "send from the %s, C=%d: signed ÷ unsigned CPU/msg %.2f (rounds %s), msgs/s %.2f (%s), p50 %.2f, p99 %.2f; last round signed %.0f msgs/s %v CPU/msg p50 %v p99 %v, unsigned %.0f msgs/s %v CPU/msg p50 %v p99 %v\n",
			from, w.conc, median(cpu), fmtRatios(cpu), median(tput), fmtRatios(tput), median(p50), median(p99),
			rs[last].PerSec, rs[last].CPUPerMsg(), rs[last].P50, rs[last].P99, ru[last].PerSec, ru[last].CPUPerMsg(), ru[last].P50, ru[last].P99)
	}
	b.Log("\n" + out.String())
}
