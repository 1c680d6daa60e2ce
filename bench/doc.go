// Package bench holds the reusable pieces of Concord's benchmark suite.
//
// Run drives a send function from a fixed number of concurrent senders and
// reports throughput and commit-latency percentiles as a Result.
// FormatTable renders Concord and baseline Results from the same run side by
// side with their ratios, because on noisy machines only same-run ratios are
// meaningful.
//
// The baseline is raw hashicorp/raft over its TCP transport with raft-boltdb
// (fsync on) behind raft.NewLogCache(512) as log and stable store:
// StartBaseline starts such a cluster in-process on loopback, and
// Baseline.Apply commits one entry through its leader. StartBaselineProcess
// runs it in a child process instead (the test binary again, whose TestMain
// calls ServeBaselineChild), so that nothing of Concord shares its runtime
// while it is measured. LANConfig is the Raft tuning Concord uses on a LAN, shared by both
// sides so the comparison measures the transport and storage, not the timers.
//
// The benchmarks in this package's tests compare candidate log stores
// (BenchmarkLogStore) and measure the baseline cluster on its own
// (BenchmarkBaseline).
package bench
