package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"concord/consensus"
	"concord/storage"
)

// TestFollowersLearnCommitsAtOnce: followers show a message as soon as it
// commits, even when raft's CommitTimeout (the idle leader's resend of the
// commit index) is far longer: the leader pushes each commit to them
// (consensus/commitpush.go). Heartbeats do not carry the commit index, so
// without the push each message here would reach the followers only after
// about 10-20 s.
func TestFollowersLearnCommitsAtOnce(t *testing.T) {
	timing := consensus.LANTiming()
	timing.Commit = 10 * time.Second
	c := newTestClusterWith(t, 3, timing)
	li := c.leader()
	for i := range 10 {
		// From the leader, then from each follower (forwarded).
		from := c.nodes[(li+i)%3]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, index, err := from.deliver(ctx, storage.Envelope{Channel: "general", Text: fmt.Sprintf("m%d", i)}, true)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for j, n := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := n.store.WaitApplied(ctx, index)
			cancel()
			if err != nil {
				t.Fatalf("message %d (index %d): member %d has not applied it 2 s after it committed (applied %d): %v",
					i, index, j, n.store.AppliedIndex(), err)
			}
		}
	}
}
