package storage

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"concord/internal/testutil"
)

// gatherIn runs o.gather as a flush would (under flushMu) and returns a
// channel closed when it returns.
func gatherIn(o *Outbox) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.flushMu.Lock()
		defer o.flushMu.Unlock()
		o.gather()
	}()
	return done
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10s", what)
	}
}

// TestOutboxBusyFlushGathers: after a flush of busyFlush Puts, the next
// flush waits for twice as many before it writes. Each Put is added only
// once the flush is seen waiting for it, so a flush that did not wait
// would never be joined.
func TestOutboxBusyFlushGathers(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	o.gatherWait, o.gatherGap = time.Minute, time.Minute // only the arrivals may end it
	o.last = busyFlush
	o.pending = []*putReq{{}}
	done := gatherIn(o)
	for n := 1; n < 2*busyFlush; n++ {
		// Once the flush waits (grew is set), one more Put arrives.
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("the busy flush to wait with %d of %d Puts", n, 2*busyFlush), func() bool {
			o.pmu.Lock()
			defer o.pmu.Unlock()
			if o.grew == nil {
				return false
			}
			o.pending = append(o.pending, &putReq{})
			close(o.grew)
			o.grew = nil
			return true
		})
	}
	waitClosed(t, done, "gather with every Put it waited for")
	if got := len(o.pending); got != 2*busyFlush {
		t.Fatalf("flush would carry %d Puts, want %d", got, 2*busyFlush)
	}
}

// TestOutboxQuietFlushDoesNotWait: a flush after a small one writes at
// once, however long gatherWait is: a lone sender waits for nobody.
func TestOutboxQuietFlushDoesNotWait(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	o.gatherWait, o.gatherGap = time.Hour, time.Hour
	o.last = busyFlush - 1
	o.pending = []*putReq{{}}
	waitClosed(t, gatherIn(o), "gather after a quiet flush")
}

// TestOutboxBusyFlushWaitIsBounded: a busy flush that no Put joins still
// writes, after gatherWait or after gatherGap, whichever ends first.
func TestOutboxBusyFlushWaitIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wait, gap time.Duration
	}{{"wait", 10 * time.Millisecond, time.Hour}, {"gap", time.Hour, 10 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			o := mustOpenOutbox(t, "", 0)
			o.gatherWait, o.gatherGap = tc.wait, tc.gap
			o.last = busyFlush
			o.pending = []*putReq{{}}
			waitClosed(t, gatherIn(o), "gather that nobody joins")
		})
	}
}

// TestOutboxConcurrentPutsWhileBusy: Puts racing busy flushes all land,
// once each, in distinct places.
func TestOutboxConcurrentPutsWhileBusy(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	o.last = busyFlush
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := o.Put(outEnv(fmt.Sprintf("m%03d", i)), t0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	pending, err := o.Pending(0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	seqs := map[uint64]bool{}
	for _, e := range pending {
		if seen[e.Envelope.ID] || seqs[e.Seq] {
			t.Fatalf("entry %s (seq %d) twice", e.Envelope.ID, e.Seq)
		}
		seen[e.Envelope.ID], seqs[e.Seq] = true, true
	}
	if len(pending) != n {
		t.Fatalf("%d entries pending, want %d", len(pending), n)
	}
	checkCounts(t, o)
}
