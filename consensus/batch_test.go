package consensus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"concord/storage"
)

// TestRoundSplitOverTwoBatchesCommitsLaterMessageFirst: the chaos suite
// (partition-majority, seed 31009) saw a member's message #7 committed
// before its #6. The drainer proposes a member's queue as one round, but
// the forwarding batcher cut the round into two forward requests when the
// first op arrived alone: the first request failed (the old connection to
// the new leader was dead), the second committed, and #6 went in a later
// round. A submitter's ops now ride in one batch, so they share one fate.
func TestRoundSplitOverTwoBatchesCommitsLaterMessageFirst(t *testing.T) {
	var mu sync.Mutex
	var batches [][]storage.Op
	start := func(_ context.Context, ops []storage.Op) waitFunc {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, ops)
		if len(batches) == 1 {
			return failAll(len(ops), errors.New("stream reset")) // the first request fails
		}
		return func() []outcome { return make([]outcome, len(ops)) }
	}
	// maxOps 1: the old batcher sent each op of the round on its own.
	b := newBatcher(start, 1, 1, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	defer func() { cancel(); <-done }()

	round := []storage.Op{msgOp("#6"), msgOp("#7"), msgOp("#8")}
	outs := b.submitAll(ctx, round)
	failed := false
	for i, o := range outs {
		if o.err != nil {
			failed = true
		} else if failed {
			t.Fatalf("%s committed after an earlier op of the same round failed (batches %d): per-author order broken",
				round[i].Message.Text, len(batches))
		}
	}
	if len(batches) != 1 {
		t.Fatalf("the round went out in %d batches, want 1", len(batches))
	}
}

func msgOp(text string) storage.Op {
	return storage.Op{Kind: storage.OpMessage, Message: &storage.Envelope{ID: text, Text: text}}
}
