package node

import (
	"os"
	"testing"

	"concord/bench"
)

// TestMain lets the benchmarks run the raw-Raft baseline in a child
// process started from this test binary (bench.StartBaselineProcess).
func TestMain(m *testing.M) {
	if code, child := bench.ServeBaselineChild(); child {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
