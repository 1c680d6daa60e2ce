package node

import (
	"sync/atomic"
	"testing"
	"time"

	"concord/failover"
	"concord/internal/testutil"
)

// heldCluster is a team of three whose members drop their drainer's "mark
// sent" calls while held is true: a message stays listed in the outbox
// after its commit, as it does when a member crashes between the two.
func heldCluster(t *testing.T) (*testCluster, *atomic.Bool) {
	held := new(atomic.Bool)
	wrap := func(o failover.Outbox) failover.Outbox { return holdingOutbox{o, held} }
	return newTestClusterOf(t, 3, &testCluster{timing: testTiming, wrapOutbox: wrap}), held
}

type holdingOutbox struct {
	failover.Outbox
	held *atomic.Bool
}

// MarkSent does nothing while the marks are held, like a crash before it.
func (h holdingOutbox) MarkSent(ids []string, index uint64, now time.Time) error {
	if h.held.Load() {
		return nil
	}
	return h.Outbox.MarkSent(ids, index, now)
}

// crashAfterCommit crashes member m while what (committed, marks held) is
// still listed in its outbox, restarts it with marks released, and waits
// until it has proposed them again and marked them sent.
func crashAfterCommit(t *testing.T, c *testCluster, m int, held *atomic.Bool, what string) {
	t.Helper()
	pending, err := c.nodes[m].outbox.Pending(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) == 0 {
		t.Fatalf("the %s were marked sent already: this test did not hit the crash point", what)
	}
	c.crash(m)
	held.Store(false)
	c.nodes[m] = c.start(c.dirs[m])
	waitDrained(t, c.nodes[m])
	testutil.WaitFor(t, 10*time.Second, "the outbox to mark the re-proposed "+what+" sent", func() bool {
		p, err := c.nodes[m].outbox.Pending(0)
		return err == nil && len(p) == 0
	})
}
