package testutil

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatalTB records a Fatalf and stops its goroutine, as testing.T's does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runTB runs fn with a fatalTB on its own goroutine and returns what
// Fatalf said ("" if it was not called).
func runTB(t *testing.T, fn func(testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestWaitForReturnsOnceCondHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 5 {
			n.Add(1)
		}
	}()
	msg := runTB(t, func(tb testing.TB) {
		WaitFor(tb, 10*time.Second, "five", func() bool { return n.Load() == 5 })
	})
	if msg != "" {
		t.Fatalf("WaitFor failed: %s", msg)
	}
}

func TestWaitForFailsNamingWhat(t *testing.T) {
	msg := runTB(t, func(tb testing.TB) {
		WaitFor(tb, 30*time.Millisecond, "the impossible", func() bool { return false })
	})
	if want := "timed out after 30ms waiting for the impossible"; msg != want {
		t.Fatalf("WaitFor said %q, want %q", msg, want)
	}
}

func TestPollReportsDeadlineAndLastDetail(t *testing.T) {
	checks := 0
	start := time.Now()
	err := Poll(t.Context(), 200*time.Millisecond, 50*time.Millisecond, func() (bool, string) {
		checks++
		return false, fmt.Sprintf("check %d", checks)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll = %v, want DeadlineExceeded", err)
	}
	if want := fmt.Sprintf("last seen: check %d", checks); !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Poll = %v, want it to end with %q", err, want)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("Poll gave up after %v, before its 200ms", took)
	}
	// Pauses of 1, 2, 4, ... ms up to 50: about 10 checks in 200 ms, fewer
	// on a slow machine, never the ~200 of a fixed 1 ms pause.
	if checks < 2 || checks > 15 {
		t.Errorf("%d checks in 200ms with pauses up to 50ms", checks)
	}
}

func TestPollStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Poll(ctx, time.Minute, 0, func() (bool, string) { return false, "" })
	if !errors.Is(err, context.Canceled) || err.Error() != context.Canceled.Error() {
		t.Fatalf("Poll = %v, want context.Canceled alone (no detail)", err)
	}
}

// A condition that becomes true while Poll pauses past the deadline is
// seen: the deadline ends the waiting, not the last check. (Checks at 0, 1,
// 3, 7, 15 and 31 ms; the deadline falls in the pause before 63 ms.)
func TestPollChecksOnceMoreAtTheDeadline(t *testing.T) {
	start := time.Now()
	err := Poll(t.Context(), 50*time.Millisecond, time.Hour, func() (bool, string) {
		return time.Since(start) >= 50*time.Millisecond, ""
	})
	if err != nil {
		t.Fatalf("Poll = %v, want nil", err)
	}
}
