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

type pending struct {
	op   storage.Op
	done chan outcome // buffered: the batcher never blocks on a gone caller
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
	p := &pending{op: op, done: make(chan outcome, 1)}
	select {
	case b.in <- p:
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	case <-b.stopped:
		return outcome{err: ErrClosed}
	}
	select {
	case o := <-p.done:
		return o
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	case <-b.stopped:
		return outcome{err: ErrClosed}
	}
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
			first.done <- outcome{err: ctx.Err()}
			return
		}
		batch := []*pending{first}
	fill:
		for len(batch) < b.maxOps {
			select {
			case p := <-b.in:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		ops := make([]storage.Op, len(batch))
		for i, p := range batch {
			ops[i] = p.op
		}
		fctx, cancel := context.WithTimeout(ctx, b.timeout)
		wait := b.start(fctx, ops)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() { <-b.inflight }()
			defer cancel()
			outs := wait()
			for i, p := range batch {
				p.done <- outs[i]
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

// submitAll queues ops in order and waits for all of their outcomes; the
// forwarding server uses it so that a follower's batch keeps its order.
func (b *batcher) submitAll(ctx context.Context, ops []storage.Op) []outcome {
	outs := make([]outcome, len(ops))
	ps := make([]*pending, 0, len(ops))
enqueue:
	for _, op := range ops {
		p := &pending{op: op, done: make(chan outcome, 1)}
		select {
		case b.in <- p:
			ps = append(ps, p)
		case <-ctx.Done():
			break enqueue
		case <-b.stopped:
			break enqueue
		}
	}
	for i := len(ps); i < len(ops); i++ {
		outs[i].err = ErrClosed
		if ctx.Err() != nil {
			outs[i].err = ctx.Err()
		}
	}
	for i, p := range ps {
		select {
		case outs[i] = <-p.done:
		case <-ctx.Done():
			outs[i].err = ctx.Err()
		case <-b.stopped:
			outs[i].err = ErrClosed
		}
	}
	return outs
}
