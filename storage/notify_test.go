package storage

import (
	"context"
	"errors"
	"testing"
)

func TestWaitApplied(t *testing.T) {
	t.Run("already applied", func(t *testing.T) {
		s := mustOpen(t)
		mustApply(t, s, entry(1, t0), entry(2, t0))
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // satisfied waits succeed even with a dead context
		if err := s.WaitApplied(ctx, 2); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wakes on apply", func(t *testing.T) {
		s := mustOpen(t)
		done := make(chan error, 1)
		go func() { done <- s.WaitApplied(t.Context(), 3) }()
		mustApply(t, s, entry(1, t0))
		mustApply(t, s, entry(2, t0))
		select {
		case err := <-done:
			t.Fatalf("WaitApplied(3) returned %v at index 2", err)
		default:
		}
		mustApply(t, s, entry(3, t0), entry(4, t0))
		if err := <-done; err != nil {
			t.Fatalf("WaitApplied: %v", err)
		}
		if s.AppliedIndex() != 4 {
			t.Fatalf("AppliedIndex = %d", s.AppliedIndex())
		}
	})

	t.Run("honours cancel", func(t *testing.T) {
		s := mustOpen(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.WaitApplied(ctx, 1) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("honours deadline", func(t *testing.T) {
		s := mustOpen(t)
		ctx, cancel := context.WithTimeout(t.Context(), 0)
		defer cancel()
		if err := s.WaitApplied(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("wakes on close", func(t *testing.T) {
		s := mustOpen(t)
		done := make(chan error, 1)
		go func() { done <- s.WaitApplied(t.Context(), 1) }()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	})

	t.Run("many waiters", func(t *testing.T) {
		s := mustOpen(t)
		const n = 20
		done := make(chan error, n)
		for i := range n {
			go func() { done <- s.WaitApplied(t.Context(), uint64(i%5+1)) }()
		}
		for i := uint64(1); i <= 5; i++ {
			mustApply(t, s, entry(i, t0))
		}
		for range n {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	})
}
