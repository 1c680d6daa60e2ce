package p2p

import (
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// How fast one peer may open inbound streams. A member needs far less than
// the normal rate, a backstop: a follower opens one forwarding stream per
// request to the leader, one request in flight (425/s at one sender in
// `make bench`, 703/s on a faster disk), probes one a second, and Raft
// reuses its streams. A peer that keeps opening streams past the
// per-protocol bounds (penaltyRefusals refusals by Bounded, each within
// penaltyFor of the last) is a flood: it gets the penalty rate until it has
// stopped for penaltyFor.
const (
	peerStreamRate  = 5000
	peerStreamBurst = 5000
	penaltyRate     = 20
	penaltyRefusals = 32
	penaltyFor      = 10 * time.Second
)

var errStreamRate = errors.New("p2p: peer opens streams too fast")

// rateLimited is the member's resource manager with a per-peer limit on
// the rate of inbound streams. A refused stream is reset by the
// multiplexer before its protocol is negotiated or a handler runs, which is
// most of what a stream costs: a flood of stream opens (the chaos suite's
// member attack) then costs the member little of what serving and
// resetting each one did.
type rateLimited struct {
	network.ResourceManager
	local peer.ID
	mu    sync.Mutex
	peers map[peer.ID]*peerRate
}

type peerRate struct {
	lim      *rate.Limiter
	used     time.Time
	refusals int       // Bounded refusals, each within penaltyFor of the last
	refused  time.Time // the last one
}

// limiters finds a host's rateLimited from a stream handler (Bounded),
// keyed by the host's peer ID: handlers are set up without the host.
var limiters sync.Map

func newRateLimited(local peer.ID, rm network.ResourceManager) *rateLimited {
	r := &rateLimited{ResourceManager: rm, local: local, peers: map[peer.ID]*peerRate{}}
	limiters.Store(local, r)
	return r
}

func (r *rateLimited) Close() error {
	limiters.CompareAndDelete(r.local, r)
	return r.ResourceManager.Close()
}

func (r *rateLimited) OpenStream(p peer.ID, dir network.Direction) (network.StreamManagementScope, error) {
	if dir == network.DirInbound && !r.allow(p, time.Now()) {
		return nil, errStreamRate
	}
	return r.ResourceManager.OpenStream(p, dir)
}

// peer returns p's state; r.mu is held.
func (r *rateLimited) peer(p peer.ID, now time.Time) *peerRate {
	pr := r.peers[p]
	if pr == nil {
		if len(r.peers) >= 1024 { // forget peers idle for a minute
			for id, o := range r.peers {
				if now.Sub(o.used) > time.Minute {
					delete(r.peers, id)
				}
			}
		}
		pr = &peerRate{lim: rate.NewLimiter(peerStreamRate, peerStreamBurst)}
		r.peers[p] = pr
	}
	pr.used = now
	return pr
}

func (r *rateLimited) allow(p peer.ID, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	pr := r.peer(p, now)
	if pr.refusals >= penaltyRefusals && now.Sub(pr.refused) > penaltyFor {
		pr.refusals = 0
		pr.lim = rate.NewLimiter(peerStreamRate, peerStreamBurst)
	}
	return pr.lim.AllowN(now, 1)
}

// refused notes that Bounded turned one of p's streams away.
func (r *rateLimited) refused(p peer.ID, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pr := r.peer(p, now)
	if now.Sub(pr.refused) > penaltyFor {
		pr.refusals = 0
	}
	pr.refused = now
	pr.refusals++
	if pr.refusals == penaltyRefusals {
		pr.lim.SetLimitAt(now, penaltyRate)
		pr.lim.SetBurstAt(now, penaltyRate)
	}
}

// noteRefused tells the host whose peer ID is local that Bounded refused a
// stream from p.
func noteRefused(local, p peer.ID) {
	if r, ok := limiters.Load(local); ok {
		r.(*rateLimited).refused(p, time.Now())
	}
}
