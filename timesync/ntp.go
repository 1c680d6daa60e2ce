package timesync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/beevik/ntp"
)

// Defaults for a single NTP query.
const (
	// DefaultTimeout bounds one NTP request/reply exchange.
	DefaultTimeout = 2 * time.Second
	// DefaultMaxRootDistance is the largest error bound (RTT/2 plus the
	// server's root distance) a reply may carry and still be used; RFC 5905
	// calls it MAXDIST.
	DefaultMaxRootDistance = time.Second
)

var (
	// ErrKissOfDeath is wrapped by the *KissError a server's kiss-of-death
	// reply (stratum 0 with a kiss code such as RATE or DENY) turns into.
	ErrKissOfDeath = errors.New("timesync: NTP kiss-of-death")
	// ErrBadResponse is wrapped by the error for a reply that must not be
	// used: malformed, not matching the request, from an unsynchronised
	// server (leap indicator 3, stratum 0 without a kiss code, stratum 16 or
	// more), or with too large a root distance.
	ErrBadResponse = errors.New("timesync: unusable NTP response")
)

// KissError is a server's kiss-of-death: it asks the client to back off
// (RATE) or to stop using it (DENY, RSTR). errors.Is(err, ErrKissOfDeath)
// holds for it; errors.As recovers the code.
type KissError struct {
	// Server is the address that was queried.
	Server string
	// Code is the four-letter kiss code, e.g. "RATE", "DENY", "RSTR".
	Code string
}

// Error describes the kiss code and the server that sent it.
func (e *KissError) Error() string {
	return fmt.Sprintf("timesync: NTP kiss-of-death %q from %s", e.Code, e.Server)
}

// Unwrap returns ErrKissOfDeath.
func (e *KissError) Unwrap() error { return ErrKissOfDeath }

// Sample is one validated NTP exchange with one server.
type Sample struct {
	// Server is the address that was queried, as given to Query.
	Server string
	// Offset is what to add to the local clock to read the server's time.
	Offset time.Duration
	// RTT is the network round trip, excluding the server's processing.
	RTT time.Duration
	// RootDistance is the server's own error bound relative to its
	// reference clock: its root delay/2 plus its root dispersion.
	RootDistance time.Duration
	// Stratum is the server's stratum (1 = attached to a reference clock).
	Stratum uint8
	// Time is the local clock's reading when the reply arrived (T4).
	Time time.Time
}

// ErrorBound is the most the Sample's offset can be wrong by, given a sane
// server: half the round trip (path asymmetry) plus the server's root
// distance. This is RFC 5905's synchronisation distance.
func (s Sample) ErrorBound() time.Duration { return s.RTT/2 + s.RootDistance }

// QueryOptions tunes Query. Zero fields take their defaults.
type QueryOptions struct {
	// Timeout bounds the exchange; ctx's deadline shortens it further.
	// Default: DefaultTimeout.
	Timeout time.Duration
	// Clock is the local clock read for T1 and T4, so the offset is
	// measured against it rather than the process's wall clock.
	// Default: System{}.
	Clock Clock
	// MaxRootDistance rejects a reply whose ErrorBound exceeds it.
	// Default: DefaultMaxRootDistance.
	MaxRootDistance time.Duration
}

func (o QueryOptions) withDefaults() QueryOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Clock == nil {
		o.Clock = System{}
	}
	if o.MaxRootDistance <= 0 {
		o.MaxRootDistance = DefaultMaxRootDistance
	}
	return o
}

// Query performs one NTPv4 exchange with server ("host" or "host:port",
// IPv6 as "[addr]:port"; the default port is 123) and returns the validated
// Sample. It returns early with ctx's error when ctx is done.
//
// A kiss-of-death reply yields a *KissError (wrapping ErrKissOfDeath); a
// reply that must not be used yields an error wrapping ErrBadResponse; a
// lost reply yields a timeout error (errors.Is os.ErrDeadlineExceeded).
func Query(ctx context.Context, server string, opts QueryOptions) (Sample, error) {
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return Sample{}, fmt.Errorf("timesync: query %s: %w", server, err)
	}
	timeout, ctxBound := opts.Timeout, false
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout, ctxBound = time.Until(dl), true
		if timeout <= 0 {
			return Sample{}, fmt.Errorf("timesync: query %s: %w", server, context.DeadlineExceeded)
		}
	}

	// beevik/ntp has no context: dial with ctx (which bounds name
	// resolution) and close the socket if ctx ends mid-exchange, which
	// makes the pending read fail at once. The dialer runs synchronously
	// inside QueryWithOptions, so stop is set before it returns.
	var stop func() bool
	dialer := func(_, remote string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", remote)
		if err != nil {
			return nil, err
		}
		stop = context.AfterFunc(ctx, func() { _ = c.Close() })
		return c, nil
	}
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{
		Timeout: timeout,
		// Read T1 and T4 from our clock (this also turns off kernel
		// receive timestamps, which are on the system clock).
		GetSystemTime: opts.Clock.Now,
		Dialer:        dialer,
	})
	if stop != nil {
		stop()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Sample{}, fmt.Errorf("timesync: query %s: %w", server, ctxErr)
	}
	if err != nil {
		if ctxBound && errors.Is(err, os.ErrDeadlineExceeded) {
			// The socket deadline was ctx's and fired a hair before ctx did.
			return Sample{}, fmt.Errorf("timesync: query %s: %w: %w", server, context.DeadlineExceeded, err)
		}
		if isMalformed(err) {
			return Sample{}, fmt.Errorf("%w from %s: %w", ErrBadResponse, server, err)
		}
		return Sample{}, fmt.Errorf("timesync: query %s: %w", server, err)
	}
	return sampleFrom(server, resp, opts.MaxRootDistance)
}

// isMalformed reports the beevik/ntp errors that mean the reply itself was
// wrong (as opposed to no reply at all).
func isMalformed(err error) bool {
	for _, e := range []error{ntp.ErrInvalidMode, ntp.ErrInvalidTransmitTime,
		ntp.ErrServerTickedBackwards, ntp.ErrInvalidTime, ntp.ErrServerResponseMismatch,
		ntp.ErrInvalidStratum, ntp.ErrInvalidLeapSecond, ntp.ErrInvalidDispersion} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// sampleFrom validates resp and turns it into a Sample.
func sampleFrom(server string, resp *ntp.Response, maxDist time.Duration) (Sample, error) {
	if resp.IsKissOfDeath() {
		if resp.KissCode != "" {
			return Sample{}, &KissError{Server: server, Code: resp.KissCode}
		}
		// Stratum 0 without a printable code: "unspecified", which is
		// what an unsynchronised server (e.g. chrony at start) sends.
		return Sample{}, fmt.Errorf("%w from %s: stratum 0 (unsynchronised)", ErrBadResponse, server)
	}
	if err := resp.Validate(); err != nil {
		return Sample{}, fmt.Errorf("%w from %s (stratum %d, leap %d): %w",
			ErrBadResponse, server, resp.Stratum, resp.Leap, err)
	}
	ts := resp.Timestamps
	off, rtt := Offset4(ts.ClientXmit, ts.ServerRecv, ts.ServerXmit, ts.ClientRecv)
	s := Sample{
		Server:       server,
		Offset:       off,
		RTT:          rtt,
		RootDistance: resp.RootDelay/2 + resp.RootDispersion,
		Stratum:      resp.Stratum,
		Time:         ts.ClientRecv,
	}
	if b := s.ErrorBound(); b > maxDist {
		return Sample{}, fmt.Errorf("%w from %s: root distance %v exceeds %v",
			ErrBadResponse, server, b, maxDist)
	}
	return s, nil
}
