package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result summarises one load run.
type Result struct {
	// Msgs is the number of sends that succeeded.
	Msgs int
	// Errors is the number of sends that returned an error.
	Errors int
	// Elapsed is the wall-clock time from the first send to the last reply.
	Elapsed time.Duration
	// PerSec is successful sends per second of Elapsed.
	PerSec float64
	// P50 and P99 are the median and 99th-percentile latencies of the
	// successful sends (nearest-rank); zero when no send succeeded.
	P50, P99 time.Duration
	// CPU is the CPU time the whole process used during the run (ProcessCPU):
	// every member's work, the load generator's too. A caller may add the
	// work a run leaves behind (applying, indexing) once it has finished.
	CPU time.Duration
}

// CPUPerMsg is CPU divided over the successful sends (0 when none).
func (r Result) CPUPerMsg() time.Duration {
	if r.Msgs == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Msgs)
}

// Run calls send from concurrency goroutines until total sends have been
// attempted, and returns the throughput and latency percentiles.
//
// The goroutines pull from a shared counter, so each send is attempted
// exactly once however long the others take. A send's latency is the time
// its call to send took; a send that returns an error is counted in Errors
// and left out of the percentiles, and the run carries on. If ctx is
// cancelled, no further sends are started and Run returns once the ones in
// flight have returned. Run returns only after all its goroutines have
// finished. A concurrency below 1 is taken as 1.
func Run(ctx context.Context, concurrency, total int, send func(ctx context.Context) error) Result {
	if total <= 0 {
		return Result{}
	}
	concurrency = max(1, min(concurrency, total))

	lat := make([]time.Duration, total)
	ok := make([]bool, total)
	var next atomic.Int64
	var wg sync.WaitGroup

	cpu, start := ProcessCPU(), time.Now()
	for range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				t0 := time.Now()
				err := send(ctx)
				lat[i] = time.Since(t0)
				ok[i] = err == nil
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu = ProcessCPU() - cpu

	attempted := min(int(next.Load()), total)
	good := make([]time.Duration, 0, attempted)
	for i := range attempted {
		if ok[i] {
			good = append(good, lat[i])
		}
	}
	slices.Sort(good)

	r := Result{
		Msgs:    len(good),
		Errors:  attempted - len(good),
		Elapsed: elapsed,
		P50:     percentile(good, 0.50),
		P99:     percentile(good, 0.99),
		CPU:     cpu,
	}
	if elapsed > 0 {
		r.PerSec = float64(r.Msgs) / elapsed.Seconds()
	}
	return r
}

// percentile returns the nearest-rank p-quantile of the sorted slice s, or
// zero for an empty slice.
func percentile(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// String renders r on one line, latencies in milliseconds.
func (r Result) String() string {
	return fmt.Sprintf("%d msgs, %d errors in %v: %.1f msgs/s, p50 %s ms, p99 %s ms",
		r.Msgs, r.Errors, r.Elapsed.Round(time.Millisecond), r.PerSec, ms(r.P50), ms(r.P99))
}

// us formats d in microseconds with one decimal.
func us(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
