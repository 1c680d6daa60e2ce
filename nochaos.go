//go:build !concord_chaos

package main

import (
	"concord/consensus"
	"concord/timesync"
)

// baseClock is the local clock `concord run` starts the member with: nil,
// the system clock (chaos.go has the chaos suite's).
func baseClock() timesync.Clock { return nil }

// baseTiming is the Raft timing `concord init` and `concord run` use: the
// defaults (chaos.go lets the chaos suite set the log's segment size).
func baseTiming() (consensus.Timing, error) { return consensus.Timing{}, nil }
