// Package timesync is where Concord reads time. Logic that tests must control
// takes a Clock instead of calling time.Now, so a member's clock can be skewed
// in tests and corrected by NTP or, later, by its peers.
//
// The clocks:
//
//   - System is the uncorrected local clock.
//   - Skewed runs a fixed amount away from another clock; tests use it to
//     give a member a wrong local clock.
//   - NTPClock (NewNTP) adds the offset measured against NTP servers to a
//     Base clock. Sync measures it once; Start keeps it fresh every
//     Interval (±10% jitter), backing off when a server answers RATE.
//     Until the first success it reads like Base and reports Source
//     "system"; when every server fails it keeps the previous offset and
//     Status reports it stale.
//
// Query performs one validated NTPv4 exchange (on github.com/beevik/ntp)
// and returns a Sample. Kiss-of-death replies become a *KissError wrapping
// ErrKissOfDeath; unsynchronised servers, stratum 16, too large a root
// distance or malformed replies become errors wrapping ErrBadResponse.
// Offsets are measured against the caller's Clock (T1 and T4 are read from
// it), so a deliberately skewed local clock is corrected too. Offset4 is the
// four-timestamp offset/round-trip arithmetic, shared with the peer-time
// protocol.
package timesync
