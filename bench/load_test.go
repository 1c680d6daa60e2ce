package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEverySend(t *testing.T) {
	var calls atomic.Int64
	errBoom := errors.New("boom")
	r := Run(t.Context(), 8, 1000, func(context.Context) error {
		if calls.Add(1)%10 == 0 {
			return errBoom
		}
		return nil
	})
	if got := calls.Load(); got != 1000 {
		t.Fatalf("send called %d times, want 1000", got)
	}
	if r.Msgs != 900 || r.Errors != 100 {
		t.Fatalf("Msgs=%d Errors=%d, want 900 and 100", r.Msgs, r.Errors)
	}
	if r.Elapsed <= 0 || r.PerSec <= 0 {
		t.Fatalf("Elapsed=%v PerSec=%v, want both positive", r.Elapsed, r.PerSec)
	}
	if r.P50 > r.P99 {
		t.Fatalf("P50 %v > P99 %v", r.P50, r.P99)
	}
}

// TestRunMeasuresCPU: each send spins until the process has used another
// millisecond of CPU, so the run used at least that much per send.
func TestRunMeasuresCPU(t *testing.T) {
	if ProcessCPU() == 0 {
		t.Skip("process CPU time is not read on this platform")
	}
	const sends = 8
	r := Run(t.Context(), 1, sends, func(context.Context) error {
		for start := ProcessCPU(); ProcessCPU()-start < time.Millisecond; {
		}
		return nil
	})
	if r.CPU < sends*time.Millisecond {
		t.Fatalf("CPU %v for %d sends of 1ms CPU each", r.CPU, sends)
	}
	if got := r.CPUPerMsg(); got < time.Millisecond {
		t.Fatalf("CPUPerMsg %v, want at least 1ms", got)
	}
	if (Result{}).CPUPerMsg() != 0 {
		t.Fatal("CPUPerMsg of no messages is not 0")
	}
}

func TestRunReachesConcurrency(t *testing.T) {
	const c = 4
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var inflight, peak atomic.Int64
	gate := make(chan struct{})
	var once sync.Once
	r := Run(ctx, c, 3*c, func(ctx context.Context) error {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == c {
			once.Do(func() { close(gate) })
		}
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if r.Errors != 0 || r.Msgs != 3*c {
		t.Fatalf("Msgs=%d Errors=%d, want %d and 0 (senders never all in flight?)", r.Msgs, r.Errors, 3*c)
	}
	if p := peak.Load(); p != c {
		t.Fatalf("peak in flight %d, want %d", p, c)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls, atCancel atomic.Int64
	r := Run(ctx, 2, 1_000_000, func(context.Context) error {
		if calls.Add(1) == 10 {
			cancel()
			// The other sender may have run on while this one was between
			// its count and cancel; from here on it may finish one send.
			atCancel.Store(calls.Load())
		}
		return nil
	})
	if n := calls.Load(); n < 10 || n > atCancel.Load()+1 {
		t.Fatalf("send called %d times; %d when cancelled", n, atCancel.Load())
	}
	if r.Msgs+r.Errors != int(calls.Load()) {
		t.Fatalf("Msgs+Errors=%d, want %d", r.Msgs+r.Errors, calls.Load())
	}
}

func TestRunEdgeCases(t *testing.T) {
	if r := Run(t.Context(), 4, 0, nil); r != (Result{}) {
		t.Fatalf("total 0: got %+v", r)
	}
	r := Run(t.Context(), 0, 3, func(context.Context) error { return errors.New("x") })
	if r.Msgs != 0 || r.Errors != 3 || r.P50 != 0 || r.P99 != 0 || r.PerSec != 0 {
		t.Fatalf("all failing: got %+v", r)
	}
}

func TestPercentile(t *testing.T) {
	s := make([]time.Duration, 100)
	for i := range s {
		s[i] = time.Duration(i+1) * time.Millisecond
	}
	if got := percentile(s, 0.50); got != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", got)
	}
	if got := percentile(s, 0.99); got != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", got)
	}
	if got := percentile(s[:1], 0.99); got != time.Millisecond {
		t.Errorf("p99 of one = %v, want 1ms", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of none = %v, want 0", got)
	}
}

func TestFormatTable(t *testing.T) {
	rows := []Row{{
		Name:     "3 members, 256 B",
		C:        16,
		Concord:  Result{Msgs: 1000, PerSec: 500, P50: 2 * time.Millisecond, P99: 12345 * time.Microsecond, CPU: 30 * time.Millisecond},
		Baseline: Result{Msgs: 2000, PerSec: 1000, P50: 1 * time.Millisecond, P99: 5 * time.Millisecond, CPU: 80 * time.Millisecond},
	}, {
		Name: "a|b", C: 1,
	}}
	got := FormatTable(rows)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), got)
	}
	wantHead := "| workload | C | concord msgs/s | baseline msgs/s | ratio | concord p50 | baseline p50 | p50 ratio | concord p99 | baseline p99 | concord CPU/msg | baseline CPU/msg | CPU ratio |"
	if lines[0] != wantHead {
		t.Errorf("header:\n got %s\nwant %s", lines[0], wantHead)
	}
	want := "| 3 members, 256 B | 16 | 500.0 | 1000.0 | 0.50 | 2.00 ms | 1.00 ms | 2.00 | 12.35 ms | 5.00 ms | 30.0 µs | 40.0 µs | 0.75 |"
	if lines[2] != want {
		t.Errorf("row:\n got %s\nwant %s", lines[2], want)
	}
	if !strings.HasPrefix(lines[3], `| a\|b | 1 | 0.0 | 0.0 | n/a |`) {
		t.Errorf("zero row: %s", lines[3])
	}
}

func TestResultString(t *testing.T) {
	r := Result{Msgs: 10, Errors: 1, Elapsed: time.Second, PerSec: 10, P50: 1500 * time.Microsecond, P99: 3 * time.Millisecond}
	want := "10 msgs, 1 errors in 1s: 10.0 msgs/s, p50 1.50 ms, p99 3.00 ms"
	if got := r.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
