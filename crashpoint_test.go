package main

import (
	"sync/atomic"
	"testing"
	"time"

	"concord/failover"
	"concord/storage"
)

// heldMarks makes every member started from now on (until the test ends)
// drop its drainer's "mark sent" calls while held is true: a message stays
// listed in the outbox after its commit, as it does when a member crashes
// between the two.
func heldMarks(t *testing.T) *atomic.Bool {
	var held atomic.Bool
	old := drainOutbox
	drainOutbox = func(o *storage.Outbox) failover.Outbox { return holdingOutbox{o, &held} }
	t.Cleanup(func() { drainOutbox = old })
	return &held
}

type holdingOutbox struct {
	*storage.Outbox
	held *atomic.Bool
}

// MarkSent does nothing while the marks are held, like a crash before it.
func (h holdingOutbox) MarkSent(ids []string, index uint64, now time.Time) error {
	if h.held.Load() {
		return nil
	}
	return h.Outbox.MarkSent(ids, index, now)
}
