package p2p

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Keep-connected loop tuning. Team peers are on a LAN, so retries are fast
// and capped low: a member coming back is found within ~10 s.
const (
	redialMinBackoff = 250 * time.Millisecond
	redialMaxBackoff = 10 * time.Second
	redialTimeout    = 10 * time.Second
	// redialRecheck is how often a connected peer is re-checked even
	// without a disconnect notification (a safety net).
	redialRecheck = 10 * time.Second
)

// keepConnected keeps team peer id connected until ctx is cancelled. It
// dials whenever the peer is not connected, backing off exponentially
// (with jitter) after failures and resetting once connected. A signal on
// kick (connect/disconnect notification, new addresses) makes it look again
// immediately; dials are still spaced by at least redialMinBackoff so a
// flapping peer cannot make it spin.
func (hs *Host) keepConnected(ctx context.Context, id peer.ID, kick <-chan struct{}) {
	defer hs.wg.Done()
	log := hs.log.With("peer", id)
	backoff := redialMinBackoff
	failures := 0
	var lastDial time.Time
	for {
		wait := redialRecheck
		if hs.IsConnected(id) {
			backoff, failures = redialMinBackoff, 0
		} else {
			if gap := time.Until(lastDial.Add(redialMinBackoff)); gap > 0 {
				if !sleepCtx(ctx, gap) {
					return
				}
			}
			lastDial = time.Now()
			err := hs.dialTeamPeer(ctx, id)
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				if failures > 0 {
					log.Info("reconnected to team peer", "failed_attempts", failures)
				}
				backoff, failures = redialMinBackoff, 0
			default:
				failures++
				wait = jitter(backoff)
				log.Debug("dialing team peer failed", "err", err, "attempt", failures, "retry_in", wait)
				backoff = min(2*backoff, redialMaxBackoff)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dialTeamPeer dials id at its known addresses, bounded by redialTimeout.
func (hs *Host) dialTeamPeer(ctx context.Context, id peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, redialTimeout)
	defer cancel()
	hs.clearDialBackoff(id)
	return hs.h.Connect(ctx, peer.AddrInfo{ID: id})
}

// jitter spreads d by ±20% so members restarting together do not dial in
// lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleepCtx waits for d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
