package main

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/failover"
)

// startDigest starts comparing this member's state digest with its
// healthy peers' (failover.DigestChecker, /concord/digest/1.0.0), and
// answering theirs.
func (n *Node) startDigest() error {
	every := n.cfg.digestInterval
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

// consistencyStatus is status's "consistency": whether this member's
// history (its state digest chain) matches its peers'. State is "ok" (it
// agrees with most peers it compared with; a peer may still be "diverged"),
// "diverged" (it differs from most of them: this member is the odd one out)
// or "unknown" (nothing compared yet, e.g. chains that started at different
// indexes after an upgrade). The indexes are null when unknown.
type consistencyStatus struct {
	State        string            `json:"state"`
	CheckedIndex *uint64           `json:"checked_index"`
	DivergedAt   *uint64           `json:"diverged_at"`
	Peers        []consistencyPeer `json:"peers"`
}

type consistencyPeer struct {
	ID           string  `json:"id"`
	State        string  `json:"state"`
	CheckedIndex *uint64 `json:"checked_index"`
	DivergedAt   *uint64 `json:"diverged_at"`
	Reason       string  `json:"reason,omitempty"` // why unknown
}

func indexOrNull(i uint64) *uint64 {
	if i == 0 {
		return nil
	}
	return &i
}

// consistency reports the digest checker's last round.
func (n *Node) consistency() consistencyStatus {
	c := n.digest.Status()
	out := consistencyStatus{State: c.State, CheckedIndex: indexOrNull(c.CheckedIndex),
		DivergedAt: indexOrNull(c.DivergedAt), Peers: []consistencyPeer{}}
	for _, p := range c.Peers {
		out.Peers = append(out.Peers, consistencyPeer{ID: p.ID.String(), State: p.State,
			CheckedIndex: indexOrNull(p.CheckedIndex), DivergedAt: indexOrNull(p.DivergedAt), Reason: p.Reason})
	}
	return out
}

// divergedSentence is the window's sentence for a member whose history
// differs from the team's; "" otherwise.
func divergedSentence(c consistencyStatus) string {
	if c.State != failover.ConsistencyDiverged || c.DivergedAt == nil {
		return ""
	}
	return fmt.Sprintf("This member's history differs from the team's at index %d.", *c.DivergedAt)
}
