package failover

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// LeaderSource tells who the Raft leader currently is. The consensus
// layer's replica satisfies it.
type LeaderSource interface {
	// Leader returns the current leader's peer ID, or "" when there is
	// none.
	Leader() peer.ID
}

// LeaderWatch combines a [LeaderSource] with a [Monitor]'s verdict on the
// leader. It holds no goroutines and needs no Close.
type LeaderWatch struct {
	src LeaderSource
	mon *Monitor
}

// NewLeaderWatch returns a LeaderWatch over src and mon, both required.
// For the verdict to mean anything, the leader must be among the peers mon
// watches (the whole team, normally).
func NewLeaderWatch(src LeaderSource, mon *Monitor) (*LeaderWatch, error) {
	if src == nil || mon == nil {
		return nil, fmt.Errorf("%w: LeaderWatch needs a LeaderSource and a Monitor", ErrInvalidConfig)
	}
	return &LeaderWatch{src: src, mon: mon}, nil
}

// Current returns the leader ("" when there is none) and whether it is
// reachable: it is this member, or the monitor reports it healthy. A
// leader not yet probed is not reachable, but not [LeaderWatch.Suspect]
// either.
func (w *LeaderWatch) Current() (leader peer.ID, healthy bool) {
	leader = w.src.Leader()
	switch {
	case leader == "":
		return "", false
	case leader == w.mon.self:
		return leader, true
	}
	return leader, w.mon.Healthy(leader)
}

// Suspect reports whether there is a leader, other than this member, whose
// last FailAfter probes all failed: a request sent to it is unlikely to be
// answered.
func (w *LeaderWatch) Suspect() bool {
	leader := w.src.Leader()
	return leader != "" && leader != w.mon.self && w.mon.isDown(leader)
}

// Guard returns a copy of ctx that is also cancelled as soon as the monitor
// finds leader down (at once if it already is), with a cause wrapping
// [ErrLeaderUnreachable] (see context.Cause). A sender waiting on leader
// thus gives up within about one probe interval of the leader dying,
// instead of at its own timeout. Guarding "" or this member's own ID only
// copies ctx. Call the returned function to release the guard as soon as
// the wait is over.
func (w *LeaderWatch) Guard(ctx context.Context, leader peer.ID) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancelCause(ctx)
	release := func() { cancel(nil) }
	if leader == "" || leader == w.mon.self {
		return gctx, release
	}
	stop := w.mon.watchDown(leader, func() {
		cancel(fmt.Errorf("%w: %s", ErrLeaderUnreachable, leader))
	})
	context.AfterFunc(gctx, func() { stop() })
	return gctx, release
}
