//go:build !concord_chaos

package main

import "concord/timesync"

// baseClock is the local clock `concord run` starts the member with: nil,
// the system clock (chaos.go has the chaos suite's).
func baseClock() timesync.Clock { return nil }
