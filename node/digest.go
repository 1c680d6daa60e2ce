package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/failover"
)

// startDigest starts comparing this member's state digest with its
// healthy peers' (failover.DigestChecker, /concord/digest/1.0.0), and
// answering theirs.
func (n *Node) startDigest() error {
	every := n.cfg.DigestInterval
	first := failover.DefaultDigestFirstDelay
	if every > 0 {
		first = min(first, every)
	}
	var err error
	n.digest, err = failover.NewDigestChecker(failover.DigestConfig{
		Host:       n.host.Host(),
		Local:      n.store.Digests,
		Peers:      n.healthyPeers,
		Admit:      n.team.isMember,
		Interval:   every,
		FirstDelay: first,
		Logger:     n.cfg.Logger,
	})
	if err != nil {
		return err
	}
	n.digest.Start()
	return nil
}

// healthyPeers are the other members whose probes answer.
func (n *Node) healthyPeers() []peer.ID {
	var out []peer.ID
	for _, p := range n.teamPeers() {
		if n.monitor.Healthy(p) {
			out = append(out, p)
		}
	}
	return out
}

// CheckConsistency compares state digests with the healthy peers now
// (instead of at the next round) and reports the outcome.
func (n *Node) CheckConsistency(ctx context.Context) failover.Consistency {
	n.digest.Round(ctx)
	return n.digest.Status()
}
