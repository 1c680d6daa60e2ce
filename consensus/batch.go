package consensus

import (
	"context"
	"sync"
	"time"

	"concord/storage"
)

// outcome is what a proposer learns about one op.
type outcome struct {
	res   storage.Result
	index uint64 // Raft index of the entry that carried the op
	err   error
}

// pending is one submitter's ops: they ride in the same batch, never split
// over two (see submitAll).
type pending struct {
	ops  []storage.Op
	done chan []outcome // buffered: the batcher never blocks on a gone caller
}

// startFunc begins committing one batch and returns a function that waits
// for the outcome. Batches are started in order, one at a time, so that ops
// keep the order in which they were submitted (per-author order); only the
// waiting overlaps.
type startFunc func(ctx context.Context, ops []storage.Op) waitFunc

// waitFunc returns one outcome per op of the batch it was started for.
type waitFunc func() []outcome

// batcher is Concord's group commit: concurrent senders' ops ride in one
// Raft entry (or one forwarding request). While a batch is in flight the next
// one fills up, so a lone sender pays no delay and many senders share the
// cost of an entry, its fsyncs and its round trips.
type batcher struct {
	in       chan *pending
	start    startFunc
	maxOps   int
	timeout  time.Duration // how long one flush may take
	inflight chan struct{}
	stopped  chan struct{} // closed when run returns: submitters stop waiting
	wg       sync.WaitGroup
}

func newBatcher(start startFunc, maxOps, maxInflight int, timeout time.Duration) *batcher {
	return &batcher{
		in:       make(chan *pending, maxOps),
		start:    start,
		maxOps:   maxOps,
		timeout:  timeout,
		inflight: make(chan struct{}, maxInflight),
		stopped:  make(chan struct{}),
	}
}

// submit queues op and waits for its outcome or ctx. When ctx ends first the
// op may still commit: the caller must treat that as "unknown" and retry
// with the same ID.
func (b *batcher) submit(ctx context.Context, op storage.Op) outcome {
	return b.submitAll(ctx, []storage.Op{op})[0]
}

// run gathers and flushes batches until ctx ends; it waits for the flushes
// it started before returning.
func (b *batcher) run(ctx context.Context) {
	defer close(b.stopped)
	defer b.wg.Wait()
	for {
		var first *pending
		select {
		case first = <-b.in:
		case <-ctx.Done():
			return
		}
		select {
		case b.inflight <- struct{}{}:
		case <-ctx.Done():
			first.done <- failAll(len(first.ops), ctx.Err())()
			return
		}
		batch, n := []*pending{first}, len(first.ops)
	fill:
		for n < b.maxOps {
			select {
			case p := <-b.in:
				batch = append(batch, p)
				n += len(p.ops)
			default:
				break fill
			}
		}
		ops := make([]storage.Op, 0, n)
		for _, p := range batch {
			ops = append(ops, p.ops...)
		}
		fctx, cancel := context.WithTimeout(ctx, b.timeout)
		wait := b.start(fctx, ops)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() { <-b.inflight }()
			defer cancel()
			outs := wait()
			for _, p := range batch {
				p.done <- outs[:len(p.ops):len(p.ops)]
				outs = outs[len(p.ops):]
			}
		}()
	}
}

// failAll is a waitFunc for a batch that could not start.
func failAll(n int, err error) waitFunc {
	return func() []outcome {
		outs := make([]outcome, n)
		for i := range outs {
			outs[i].err = err
		}
		return outs
	}
}

// submitAll queues ops and waits for all of their outcomes. The ops ride
// in one batch, in order (the batch may be larger than maxOps): split over
// two, a first batch that failed and a second that committed would commit a
// member's later messages without its earlier ones (the drainer proposes a
// member's queue as one submitAll, and so does the forwarding server with a
// follower's request).
func (b *batcher) submitAll(ctx context.Context, ops []storage.Op) []outcome {
	if len(ops) == 0 {
		return nil
	}
	p := &pending{ops: ops, done: make(chan []outcome, 1)}
	select {
	case b.in <- p:
	case <-ctx.Done():
		return failAll(len(ops), ctx.Err())()
	case <-b.stopped:
		return failAll(len(ops), ErrClosed)()
	}
	select {
	case outs := <-p.done:
		return outs
	case <-ctx.Done():
		return failAll(len(ops), ctx.Err())()
	case <-b.stopped:
		return failAll(len(ops), ErrClosed)()
	}
}
