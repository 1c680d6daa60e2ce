package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Apply commits data as one log entry through the current leader and
// returns once it is committed and applied there, or when ctx ends.
//
// raft's own Apply timeout covers only enqueueing, and a future can be left
// pending when leadership is lost, so the future is waited on in a
// goroutine (tracked for Close) while Apply itself returns ctx's error as
// soon as ctx ends. Apply returns ErrNoLeader when no node is leader and
// ErrClosed after Close; it does not retry.
func (b *Baseline) Apply(ctx context.Context, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	r := b.leader()
	if r == nil {
		b.mu.Unlock()
		return ErrNoLeader
	}
	b.wg.Add(1)
	b.mu.Unlock()

	var enqueue time.Duration // zero: no limit beyond raft shutting down
	if dl, ok := ctx.Deadline(); ok {
		enqueue = max(time.Until(dl), time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		defer b.wg.Done()
		done <- r.Apply(data, enqueue).Error()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("bench: apply: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close shuts every node down, waits for the goroutines Apply started and
// closes the transports and stores. It is safe to call more than once and
// concurrently; every call returns the first call's error.
//
// raft can drop a future that was committed but not yet handed to the FSM
// when it shuts down, and a goroutine waiting on such a future never
// returns. Once every node has shut down no future can resolve any more, so
// Close gives the waiters waiterGrace to finish and then reports the ones
// still blocked as an error instead of hanging.
func (b *Baseline) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()

		var errs []error
		for _, nd := range b.nodes {
			if nd.raft != nil {
				if err := nd.raft.Shutdown().Error(); err != nil {
					errs = append(errs, fmt.Errorf("bench: shutdown %s: %w", nd.id, err))
				}
			}
		}
		if err := b.awaitWaiters(); err != nil {
			errs = append(errs, err)
		}
		for _, nd := range b.nodes {
			if err := nd.trans.Close(); err != nil {
				errs = append(errs, fmt.Errorf("bench: close %s transport: %w", nd.id, err))
			}
			if err := nd.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("bench: close %s store: %w", nd.id, err))
			}
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// waiterGrace is how long Close lets Apply's waiters finish after every
// node has shut down.
const waiterGrace = 5 * time.Second

// awaitWaiters waits for the goroutines Apply started, for at most
// waiterGrace.
func (b *Baseline) awaitWaiters() error {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(waiterGrace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errors.New("bench: apply waiters still blocked in raft after shutdown")
	}
}
