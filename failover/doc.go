// Package failover tells a member which of its teammates are reachable right
// now, and whether the Raft leader is among them.
//
// The building blocks, bottom up:
//
//   - [p2p.ProtoProbe] is a tiny liveness protocol: the prober writes an 8-byte
//     nonce frame ([p2p.WriteFrame]) and the responder echoes it. A
//     [Responder] answers probes on a host (only from peers its Admit
//     function accepts); a [Prober] sends them, keeping one long-lived stream
//     per peer so a probe costs one round trip rather than a stream
//     negotiation, and reopening the stream after an error.
//   - A [Monitor] probes every team peer concurrently once per
//     [Config.Interval] and keeps a health record per peer: a peer is
//     healthy once a probe has succeeded and stays healthy until
//     [Config.FailAfter] consecutive probes fail. Transitions are fanned out
//     to subscribers ([Monitor.Subscribe]) without ever blocking the monitor.
//   - A [LeaderWatch] combines the Raft leader (from a [LeaderSource], which
//     the consensus layer satisfies) with the monitor's verdict, so status
//     can show whether the leader is reachable and a sender can stop waiting
//     on a dead leader after about one probe interval ([LeaderWatch.Guard]).
//
// Wiring, on every member: a Responder serving the member's host (Admit =
// "is a team member"), a Monitor whose Peers is the team, and a LeaderWatch
// over the consensus replica and that Monitor:
//
//	r, _ := failover.NewResponder(failover.ResponderConfig{Admit: isMember})
//	r.Serve(h.Host())
//	mon, _ := failover.New(failover.Config{Host: h.Host(), Peers: team})
//	mon.Start()
//	lw, _ := failover.NewLeaderWatch(replica, mon)
//
// Probes dial a peer that is not connected, but do not clear the swarm's
// dial backoff: reconnecting a restarted peer quickly is the p2p layer's
// job (its team redial loop), after which probes succeed again.
//
// The package does not import hashicorp/raft nor Concord's consensus
// package: it declares the small interfaces it needs.
package failover
