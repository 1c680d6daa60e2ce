//go:build concord_nodedup

package node

import (
	"context"
	"testing"
	"time"

	"concord/storage"
)

// TestPlantedNoDedupIsCaught runs against a build whose FSM does not drop
// duplicate IDs (the planted bug) and fails unless the checker reports the
// duplicates a retried send then produces.
func TestPlantedNoDedupIsCaught(t *testing.T) {
	c := newTestCluster(t, 3)
	n := c.nodes[c.leader()]
	var attempts []attempt
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 5 {
		env := storage.Envelope{ID: newMessageID(), Author: n.ID().String(), Channel: "general",
			Text: "retried", SentAt: time.Now()}
		// A retry after an unknown outcome proposes the same envelope again.
		for range 2 {
			if _, _, err := n.replica.Submit(ctx, storage.Op{Kind: storage.OpMessage, Message: &env}); err != nil {
				t.Fatal(err)
			}
		}
		attempts = append(attempts, attempt{ID: env.ID, Author: "a", Acked: true})
	}
	c.waitConverged()
	r := checkHistories(attempts, c.histories())
	t.Log(r)
	if r.Duplicated == 0 {
		t.Fatalf("the checker missed the planted bug: %v", r)
	}
}
