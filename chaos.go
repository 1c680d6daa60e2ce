//go:build concord_chaos

package main

import (
	"fmt"
	"os"
	"strconv"

	"concord/consensus"
	"concord/control"
	"concord/timesync"
)

// baseClock is the local clock `concord run` starts the member with: in
// the chaos suite's build, one the suite can skew (control/chaos.go).
func baseClock() timesync.Clock { return control.ChaosClock{} }

// chaosWALSegmentEnv is the Raft log's segment size in bytes in the chaos
// suite's build: the wedged-rotation scenario makes it small, so that the
// log starts a new segment within the time a fault is held. Unset: the
// default (8 MiB).
const chaosWALSegmentEnv = "CONCORD_CHAOS_WAL_SEGMENT"

// baseTiming is the Raft timing `concord init` and `concord run` use: the
// defaults, with the segment size of chaosWALSegmentEnv. A value that is
// not a positive number is an error rather than the default: a scenario
// that counts on small segments must not run with large ones.
func baseTiming() (consensus.Timing, error) {
	var t consensus.Timing
	v, ok := os.LookupEnv(chaosWALSegmentEnv)
	if !ok {
		return t, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return t, fmt.Errorf("%s=%q: want a size in bytes", chaosWALSegmentEnv, v)
	}
	t.WALSegment = n
	return t, nil
}
