// Package testutil holds what Concord's tests share: waiting, with a
// deadline, for a condition that another goroutine makes true.
//
// Import it from _test.go files only.
package testutil

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Interval is the longest pause WaitFor makes between two checks of its
// condition. The first pauses are shorter (1 ms, doubling), so a condition
// that holds soon is seen soon, and a long wait costs few checks.
const Interval = 20 * time.Millisecond

// WaitFor checks cond until it holds and fails the test (t.Fatalf, naming
// what) if it does not within d. cond is checked once more after the
// deadline passes, so a condition that became true during the last pause
// is not reported as a timeout. Call it from the test's goroutine; cond may
// itself fail the test.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	// Not t.Context(): it is done while cleanups run, and a cleanup may wait.
	if err := Poll(context.Background(), d, Interval, func() (bool, string) { return cond(), "" }); err != nil {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// Poll checks cond until it holds and returns nil, or an error once ctx is
// done or d has passed: ctx's error, with the detail cond returned last
// (say what it saw, or ""). Between checks it pauses 1 ms at first,
// doubling up to every (Interval when every is 0). Unlike WaitFor it does
// not touch a testing.TB, so it suits goroutines other than the test's, and
// failures that report what cond saw.
func Poll(ctx context.Context, d, every time.Duration, cond func() (ok bool, detail string)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if every <= 0 {
		every = Interval
	}
	pause := min(time.Millisecond, every)
	timer := time.NewTimer(pause)
	defer timer.Stop()
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		if err := ctx.Err(); err != nil {
			if detail == "" {
				return err
			}
			return fmt.Errorf("%w; last seen: %s", err, detail)
		}
		select {
		case <-ctx.Done():
		case <-timer.C: // the polling interval, not synchronisation
		}
		pause = min(2*pause, every)
		timer.Reset(pause)
	}
}
