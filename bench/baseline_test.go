package bench

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// payload is the 256-byte message body the benchmarks commit.
var payload = make([]byte, 256)

func TestBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node raft cluster with fsync; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	b, err := StartBaseline(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatalf("StartBaseline: %v", err)
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := b.Apply(ctx, payload); err != ErrClosed {
			t.Errorf("Apply after Close = %v, want ErrClosed", err)
		}
	}()

	r := Run(ctx, 16, 500, func(ctx context.Context) error { return b.Apply(ctx, payload) })
	t.Logf("baseline C=16: %v", r)
	if r.Errors != 0 || r.Msgs != 500 {
		t.Fatalf("Msgs=%d Errors=%d, want 500 and 0", r.Msgs, r.Errors)
	}
	// Every node applies every entry; the leader has by the time Apply returns.
	var most uint64
	for _, nd := range b.nodes {
		most = max(most, nd.fsm.n.Load())
	}
	if most < 500 {
		t.Errorf("leader FSM applied %d entries, want at least 500", most)
	}
}

func TestStartBaselineRejectsZeroNodes(t *testing.T) {
	if _, err := StartBaseline(t.Context(), t.TempDir(), 0); err == nil {
		t.Fatal("StartBaseline with 0 nodes succeeded")
	}
}

// BenchmarkBaseline measures raw hashicorp/raft (TCP transport, raft-boltdb
// with fsync) on 3 in-process nodes with 256-byte entries, at 1, 16 and 256
// concurrent senders each waiting for commit. One op is one committed entry.
func BenchmarkBaseline(b *testing.B) {
	ctx := b.Context()
	cl, err := StartBaseline(ctx, b.TempDir(), 3)
	if err != nil {
		b.Fatalf("StartBaseline: %v", err)
	}
	b.Cleanup(func() {
		if err := cl.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	send := func(ctx context.Context) error { return cl.Apply(ctx, payload) }

	for _, c := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("C=%d", c), func(b *testing.B) {
			r := Run(ctx, c, b.N, send)
			b.ReportMetric(r.PerSec, "msgs/s")
			b.ReportMetric(float64(r.P50)/float64(time.Millisecond), "p50_ms")
			b.ReportMetric(float64(r.P99)/float64(time.Millisecond), "p99_ms")
			if r.Errors > 0 {
				b.ReportMetric(float64(r.Errors), "errors")
			}
			if r.Msgs == 0 {
				b.Fatalf("no send succeeded: %v", r)
			}
		})
	}
}
