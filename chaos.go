//go:build concord_chaos

package main

import (
	"concord/control"
	"concord/timesync"
)

// baseClock is the local clock `concord run` starts the member with: in
// the chaos suite's build, one the suite can skew (control/chaos.go).
func baseClock() timesync.Clock { return control.ChaosClock{} }
