package bench

import (
	"context"
	"testing"
	"time"
)

func TestBaselineProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node raft cluster with fsync in a child process; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	p, err := StartBaselineProcess(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatalf("StartBaselineProcess: %v", err)
	}
	for range 2 { // the child serves one round after another
		r, err := p.Round(ctx, 16, 300, 256)
		if err != nil {
			t.Fatalf("Round: %v", err)
		}
		t.Logf("baseline process C=16: %v, CPU %v", r, r.CPU)
		if r.Msgs != 300 || r.Errors != 0 || r.CPU <= 0 {
			t.Fatalf("Msgs=%d Errors=%d CPU=%v, want 300, 0 and the child's CPU", r.Msgs, r.Errors, r.CPU)
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
