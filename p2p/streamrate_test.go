package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// allowed counts how many of n stream opens at instant now r lets in.
func allowed(r *rateLimited, p peer.ID, now time.Time, n int) int {
	k := 0
	for range n {
		if r.allow(p, now) {
			k++
		}
	}
	return k
}

func TestStreamRateLimit(t *testing.T) {
	r := &rateLimited{peers: map[peer.ID]*peerRate{}}
	flood, other := peer.ID("flooder"), peer.ID("member")
	now := time.Unix(1e9, 0)

	// A member's normal rate passes; a burst beyond it is cut.
	if got := allowed(r, flood, now, 3*peerStreamBurst); got != peerStreamBurst {
		t.Fatalf("a burst of 3× the burst: %d let in, want the burst of %d", got, peerStreamBurst)
	}
	now = now.Add(time.Second)
	if got := allowed(r, flood, now, 3*peerStreamBurst); got != peerStreamRate {
		t.Fatalf("a second later: %d let in, want the rate of %d", got, peerStreamRate)
	}

	// A few refusals by the per-protocol bounds do not penalise a peer ...
	for range penaltyRefusals - 1 {
		r.refused(flood, now)
	}
	now = now.Add(time.Second)
	if got := allowed(r, flood, now, 3*peerStreamBurst); got != peerStreamRate {
		t.Fatalf("after %d refusals: %d let in, want %d", penaltyRefusals-1, got, peerStreamRate)
	}
	// ... many do, for as long as they go on, and only that peer.
	r.refused(flood, now)
	now = now.Add(time.Second)
	if got := allowed(r, flood, now, 3*peerStreamBurst); got != penaltyRate {
		t.Fatalf("penalised: %d let in, want %d", got, penaltyRate)
	}
	if got := allowed(r, other, now, 500); got != 500 {
		t.Fatalf("another peer: %d of 500 let in during the penalty", got)
	}
	now = now.Add(penaltyFor / 2)
	r.refused(flood, now) // still flooding: the penalty lasts
	now = now.Add(penaltyFor / 2)
	if got := allowed(r, flood, now, 3*peerStreamBurst); got != penaltyRate {
		t.Fatalf("still flooding: %d let in, want %d", got, penaltyRate)
	}
	// Quiet for penaltyFor: back to the normal rate.
	now = now.Add(penaltyFor)
	if got := allowed(r, flood, now, 3*peerStreamBurst); got != peerStreamBurst {
		t.Fatalf("after the penalty: %d let in, want %d", got, peerStreamBurst)
	}
}
