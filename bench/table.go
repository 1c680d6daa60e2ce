package bench

import (
	"fmt"
	"strings"
	"time"
)

// Row is one line of the comparison table: the same workload at the same
// concurrency, measured on Concord and on the baseline in the same run.
type Row struct {
	// Name names the workload, e.g. "3 members, 256 B".
	Name string
	// C is the number of concurrent senders.
	C int
	// Concord is the result measured on Concord.
	Concord Result
	// Baseline is the result measured on raw hashicorp/raft.
	Baseline Result
}

// FormatTable renders rows as a markdown table comparing Concord with the
// baseline. Ratios are concord/baseline for throughput, latency and CPU per
// message, so a throughput ratio above 1 and the other ratios below 1 favour
// Concord. Latencies are in milliseconds with two decimals, CPU per message
// in microseconds (the process's, so three members' work); a ratio whose
// baseline value is zero is shown as "n/a".
func FormatTable(rows []Row) string {
	var b strings.Builder
	b.WriteString("| workload | C | concord msgs/s | baseline msgs/s | ratio | concord p50 | baseline p50 | p50 ratio | concord p99 | baseline p99 | concord CPU/msg | baseline CPU/msg | CPU ratio |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %s | %s ms | %s ms | %s | %s ms | %s ms | %s µs | %s µs | %s |\n",
			strings.ReplaceAll(r.Name, "|", `\|`), r.C,
			r.Concord.PerSec, r.Baseline.PerSec, ratio(r.Concord.PerSec, r.Baseline.PerSec),
			ms(r.Concord.P50), ms(r.Baseline.P50), durRatio(r.Concord.P50, r.Baseline.P50),
			ms(r.Concord.P99), ms(r.Baseline.P99),
			us(r.Concord.CPUPerMsg()), us(r.Baseline.CPUPerMsg()), durRatio(r.Concord.CPUPerMsg(), r.Baseline.CPUPerMsg()))
	}
	return b.String()
}

// ratio formats a/b with two decimals, or "n/a" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// durRatio is ratio for durations.
func durRatio(a, b time.Duration) string {
	return ratio(float64(a), float64(b))
}
