package p2p

import (
	"math"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"
)

// newResourceManager builds a resource manager for a small trusted team on a
// LAN. The libp2p defaults are written for the public internet and hurt
// here:
//
//   - the connection limiter allows only 8 concurrent connections per IPv4
//     /32 (and per IPv6 /56), which cuts off members sharing a NAT, a host or
//     a test machine;
//   - the connection rate limiter allows a burst of 16 then 0.2 new
//     connections per second per /32, which throttles the redial loop when
//     several members restart together;
//   - the scaled memory/stream limits can stall Raft's bursty replication.
//
// All three are lifted. One limit is added: the rate at which one peer may
// open streams (streamrate.go). Each protocol bounds its own streams per
// peer (Bounded), but only after the stream has opened and its protocol
// been negotiated; the rate limit turns a flood away at the multiplexer,
// before either. Metrics are off: nothing in Concord scrapes
// Prometheus.
func newResourceManager(local peer.ID) (network.ResourceManager, error) {
	noSubnetLimitV4 := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: math.MaxInt}}
	noSubnetLimitV6 := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: math.MaxInt}}
	rm, err := rcmgr.NewResourceManager(
		rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits),
		rcmgr.WithLimitPerSubnet(noSubnetLimitV4, noSubnetLimitV6),
		// A zero rate.Limiter has no global, prefix or subnet limit.
		rcmgr.WithConnRateLimiters(&rate.Limiter{}),
		rcmgr.WithMetricsDisabled(),
	)
	if err != nil {
		return nil, err
	}
	return newRateLimited(local, rm), nil
}
