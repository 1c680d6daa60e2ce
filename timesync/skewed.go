package timesync

import "time"

// Skewed is a clock that runs Skew away from Base: Now is Base.Now()+Skew.
// Tests use it to give a member a wrong local clock; a nil Base means
// System{}.
type Skewed struct {
	Base Clock
	Skew time.Duration
}

var _ Clock = Skewed{}

func (s Skewed) base() Clock {
	if s.Base == nil {
		return System{}
	}
	return s.Base
}

// Now returns Base's time shifted by Skew.
func (s Skewed) Now() time.Time { return s.base().Now().Add(s.Skew) }

// Source reports Base's source: skewing does not change where the time
// comes from.
func (s Skewed) Source() string { return s.base().Source() }

// Offset is Base's offset plus Skew: what this clock adds to the local clock.
func (s Skewed) Offset() time.Duration { return s.base().Offset() + s.Skew }
