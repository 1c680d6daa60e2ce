package p2p

import (
	"math"

	"github.com/libp2p/go-libp2p/core/network"
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
// All three are lifted. Metrics are off: nothing in Concord scrapes
// Prometheus, and it keeps the host free of process-global state.
func newResourceManager() (network.ResourceManager, error) {
	noSubnetLimitV4 := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: math.MaxInt}}
	noSubnetLimitV6 := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: math.MaxInt}}
	return rcmgr.NewResourceManager(
		rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits),
		rcmgr.WithLimitPerSubnet(noSubnetLimitV4, noSubnetLimitV6),
		// A zero rate.Limiter has no global, prefix or subnet limit.
		rcmgr.WithConnRateLimiters(&rate.Limiter{}),
		rcmgr.WithMetricsDisabled(),
	)
}
