package timesync

import "time"

// jitterFraction spreads resyncs over ±10% of the interval so members that
// started together do not query the same servers in lockstep.
const jitterFraction = 0.10

// syncOutcome is what the resync loop learned from one Sync.
type syncOutcome int

const (
	syncOK     syncOutcome = iota // a server answered
	syncFailed                    // every server failed, none asked us to slow down
	syncRate                      // some server answered kiss-of-death RATE
)

// nextInterval returns the wait (before jitter) until the next resync, given
// the previous wait and how the last Sync went:
//
//   - a RATE kiss doubles the wait (starting from at least Interval), up to
//     MaxBackoff;
//   - a failure retries after RetryInterval, unless we are already backing
//     off, in which case the backed-off wait is kept;
//   - a success returns to Interval.
func nextInterval(cfg NTPConfig, prev time.Duration, out syncOutcome) time.Duration {
	switch out {
	case syncRate:
		d := max(prev, cfg.Interval)
		if d > cfg.MaxBackoff/2 {
			return cfg.MaxBackoff
		}
		return 2 * d
	case syncFailed:
		if prev > cfg.Interval {
			return prev
		}
		return min(cfg.RetryInterval, cfg.Interval)
	default:
		return cfg.Interval
	}
}

// jitter spreads d uniformly over d·(1±frac), given r uniform in [0,1).
func jitter(d time.Duration, frac, r float64) time.Duration {
	return d + time.Duration(float64(d)*frac*(2*r-1))
}
