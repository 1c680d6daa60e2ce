package timesync

import (
	"cmp"
	"slices"
	"time"
)

// estimate is the offset a set of samples from one server supports.
type estimate struct {
	offset time.Duration // median offset of the kept samples
	rtt    time.Duration // lowest round trip among them
	bound  time.Duration // largest ErrorBound among them
	kept   int           // how many samples were used
}

// combine keeps the better half of samples by round trip (the ones least
// disturbed by queueing, which is what skews an offset) and takes the
// median of their offsets. The error bound is the worst ErrorBound of the
// kept samples. samples must not be empty.
func combine(samples []Sample) estimate {
	s := slices.Clone(samples)
	slices.SortStableFunc(s, func(a, b Sample) int {
		if c := cmp.Compare(a.RTT, b.RTT); c != 0 {
			return c
		}
		return cmp.Compare(a.RootDistance, b.RootDistance)
	})
	s = s[:(len(s)+1)/2]

	offs := make([]time.Duration, len(s))
	e := estimate{rtt: s[0].RTT, kept: len(s)}
	for i, x := range s {
		offs[i] = x.Offset
		e.bound = max(e.bound, x.ErrorBound())
	}
	slices.Sort(offs)
	n := len(offs)
	if n%2 == 1 {
		e.offset = offs[n/2]
	} else {
		a, b := offs[n/2-1], offs[n/2]
		e.offset = a + (b-a)/2
	}
	return e
}
