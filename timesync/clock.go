package timesync

import "time"

// Clock tells the time Concord should use: the local clock plus whatever
// correction the member currently trusts.
type Clock interface {
	// Now returns the corrected current time.
	Now() time.Time
	// Source names where the correction comes from ("system", "ntp", "peer").
	Source() string
	// Offset is the correction added to the local clock.
	Offset() time.Duration
}

// System is the uncorrected local clock.
type System struct{}

var _ Clock = System{}

// Now returns the local wall-clock time.
func (System) Now() time.Time { return time.Now() }

// Source reports "system": no correction is applied.
func (System) Source() string { return "system" }

// Offset is always zero for the uncorrected clock.
func (System) Offset() time.Duration { return 0 }
