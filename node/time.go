package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/p2p"
	"concord/timesync"
)

// Peer time tuning: a few exchanges per round, a round every peerTimeEvery
// while NTP is not in use.
const (
	peerTimeSamples = 5
	peerTimeEvery   = 30 * time.Second
	peerTimeRetry   = 2 * time.Second
	peerTimeTimeout = 2 * time.Second
)

// startTime sets up the member's clock: NTP (servers from the config, or
// the override), falling back to the leader's clock over the LAN.
func (n *Node) startTime(servers []string) error {
	ntp, err := timesync.NewNTP(timesync.NTPConfig{Servers: servers, Base: n.cfg.Clock, Logger: n.cfg.Logger})
	if err != nil {
		return fmt.Errorf("ntp: %w", err)
	}
	n.ntp = ntp
	n.clock = timesync.NewMember(n.cfg.Clock, ntp)
	return nil
}

// runTime starts NTP sync and the peer-time loop; both stop with ctx (and
// NTPClock.Close).
func (n *Node) runTime(ctx context.Context) {
	if err := n.ntp.Start(ctx); err != nil {
		n.log.Warn("ntp not started", "err", err)
	}
	n.host.Host().SetStreamHandler(p2p.ProtoTime, p2p.Bounded(maxTimeStreams, n.serveTime))
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.peerTimeLoop(ctx)
	}()
}

// serveTime answers peer-time exchanges with this member's corrected clock.
func (n *Node) serveTime(s network.Stream) {
	defer s.Close()
	if !n.team.isMember(s.Conn().RemotePeer()) { // the gater admits invitees too
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(peerTimeTimeout))
	if err := timesync.PeerAnswer(s, n.clock, n.clock.HasNTP); err != nil {
		s.Reset()
	}
}

// peerTimeLoop measures this member's offset to the leader whenever NTP is
// not in use (a LAN without internet), so every member shows the same time.
func (n *Node) peerTimeLoop(ctx context.Context) {
	for {
		wait := peerTimeEvery
		if !n.clock.HasNTP() {
			if err := n.syncPeerTime(ctx); err != nil {
				n.log.Debug("peer time", "err", err)
				wait = peerTimeRetry
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// syncPeerTime takes the time from a member whose clock has NTP if one
// answers (the leader first), else from the leader: either way the team
// agrees on one clock.
func (n *Node) syncPeerTime(ctx context.Context) error {
	leader := n.replica.Leader()
	candidates := []peer.ID{}
	if leader != "" && leader != n.ID() {
		candidates = append(candidates, leader)
	}
	for _, p := range n.teamPeers() {
		if p != leader && n.host.IsConnected(p) {
			candidates = append(candidates, p)
		}
	}
	var fallback []timesync.Sample
	var fallbackPeer peer.ID
	for _, p := range candidates {
		samples, hasNTP, err := n.queryPeerTime(ctx, p)
		if err != nil || len(samples) == 0 {
			continue
		}
		if hasNTP {
			return n.adoptPeerTime(p, samples)
		}
		if p == leader {
			fallback, fallbackPeer = samples, p
		}
	}
	if fallback != nil {
		return n.adoptPeerTime(fallbackPeer, fallback)
	}
	if leader == n.ID() {
		return nil // the leader is the team's reference when nobody has NTP
	}
	return errors.New("no member to take the time from")
}

func (n *Node) adoptPeerTime(p peer.ID, samples []timesync.Sample) error {
	off, rtt, bound, err := timesync.CombinePeer(samples)
	if err != nil {
		return err
	}
	n.clock.SetPeer(p.String(), off, rtt, bound)
	return nil
}

func (n *Node) queryPeerTime(ctx context.Context, p peer.ID) ([]timesync.Sample, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeTimeout)
	defer cancel()
	s, err := n.host.Host().NewStream(ctx, p, p2p.ProtoTime)
	if err != nil {
		return nil, false, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	var out []timesync.Sample
	hasNTP := false
	for range peerTimeSamples {
		smp, ntp, err := timesync.PeerQuery(ctx, s, n.clock.Base(), p.String())
		if err != nil {
			return out, hasNTP, err
		}
		out, hasNTP = append(out, smp), ntp
	}
	return out, hasNTP, nil
}

// Time reports the member's clock correction.
func (n *Node) Time() timesync.TimeStatus { return n.clock.Status() }
