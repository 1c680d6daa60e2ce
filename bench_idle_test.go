package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleCPU measures what an idle team costs (issue 23, item 5):
// teams of 3, 5 and 10 member processes of the real binary, settled (every
// member sees the team's voters and leader, then 5 s more), and no
// messages; each member's utime+stime from /proc over 30 s, in % of one
// core. The target is 0.5 % for every member, leader included.
func BenchmarkIdleCPU(b *testing.B) {
	for _, n := range []int{3, 5, 10} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			for range b.N {
				idleCPU(b, n)
			}
		})
	}
}

// idleWindow is how long idle CPU is measured.
const idleWindow = 30 * time.Second

func idleCPU(b *testing.B, n int) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
	}
	tm := newProcTeam(b, names...)
	tm.waitVoters(min(n, 3))
	leader := tm.leader()
	// Settled: joins, promotions and the first rounds of probes are over.
	time.Sleep(5 * time.Second)
	before := make([]time.Duration, n)
	for i, p := range tm.procs {
		before[i] = procCPU(b, p)
	}
	start := time.Now()
	time.Sleep(idleWindow)
	window := time.Since(start)
	if now := tm.leader(); now != leader {
		b.Logf("the leader changed during the window (%s, then %s): figures include the election", leader.name, now.name)
		leader = now
	}
	var worst, lead, sum float64
	var parts []string
	for i, p := range tm.procs {
		pct := 100 * (procCPU(b, p) - before[i]).Seconds() / window.Seconds()
		sum += pct
		worst = max(worst, pct)
		role := ""
		if p == leader {
			lead, role = pct, " (leader)"
		}
		parts = append(parts, fmt.Sprintf("%s%s %.2f %%", p.name, role, pct))
	}
	b.ReportMetric(lead, "leader_cpu_%")
	b.ReportMetric(worst, "max_member_cpu_%")
	b.ReportMetric(sum/float64(n), "mean_member_cpu_%")
	b.Logf("idle CPU, %d members over %v (%% of one core): %s", n, window.Round(time.Second), strings.Join(parts, ", "))
}

// procCPU is a member process's utime+stime so far, from /proc.
func procCPU(b *testing.B, p *proc) time.Duration {
	b.Helper()
	p.mu.Lock()
	pid := p.cmd.Process.Pid
	p.mu.Unlock()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}
