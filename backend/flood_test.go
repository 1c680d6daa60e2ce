//go:build !headless

package backend

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"concord/app"
	"concord/internal/testutil"
	"concord/storage"
)

// TestFloodViewHasNoGap: a window that falls behind a flood of messages
// into its open channel (bursts of 1,000, four times its 256-event buffer,
// while it reads nothing) must end up showing every message: each one
// arrives as an EventMessage, or the window is told EventStale and rereads
// the history. The view here is the window's rule: append what
// EventMessage brings, reread on EventStale. Issue 23, item 2; runs in
// -short (one member).
func TestFloodViewHasNoGap(t *testing.T) {
	const bursts, perBurst = 3, 1000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := newTestBackend(t, filepath.Join(t.TempDir(), "a"))
	if err := b.CreateTeam(ctx, "Flood", "ann"); err != nil {
		t.Fatal(err)
	}
	n, err := b.node()
	if err != nil {
		t.Fatal(err)
	}
	events, unsub := b.Events()
	defer unsub()

	view := map[uint64]string{} // seq → ID, what the window shows of #general
	reread := func() {
		clear(view)
		before := uint64(0)
		for {
			page, err := b.History(ctx, "general", before, 500)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				view[m.Seq] = m.ID
			}
			if len(page) < 500 {
				return
			}
			before = page[0].Seq
		}
	}
	reread() // the window opens the channel
	stales := 0
	handle := func(ev app.Event) {
		switch ev.Kind {
		case app.EventMessage:
			if ev.Message.Channel == "general" {
				view[ev.Message.Seq] = ev.Message.ID
			}
		case app.EventStale:
			stales++
			reread()
		}
	}
	var last uint64
	for burst := range bursts {
		// The window reads nothing while a burst is sent and applied.
		for i := range perBurst {
			if _, err := n.SendNoWait(ctx, "general", fmt.Sprintf("burst %d #%d", burst, i)); err != nil {
				t.Fatal(err)
			}
		}
		want := uint64((burst + 1) * perBurst)
		testutil.WaitFor(t, time.Minute, fmt.Sprintf("burst %d to be applied", burst), func() bool {
			msgs, err := n.Read("general", storage.Query{Limit: 1})
			if err != nil || len(msgs) != 1 || msgs[0].Seq < want {
				return false
			}
			last = msgs[0].Seq
			return true
		})
		// Then it catches up with what it was sent, until it shows every
		// message so far (EventStale comes at the latest with the next
		// status tick, every second).
		deadline := time.Now().Add(30 * time.Second)
		for uint64(len(view)) < last {
			select {
			case ev := <-events:
				handle(ev)
			case <-time.After(time.Until(deadline)):
				t.Fatalf("burst %d: the view shows %d of %d messages after 30 s (EventStale %d times, %d events dropped)",
					burst, len(view), last, stales, b.drops.Load())
			}
		}
	}
	for seq := uint64(1); seq <= last; seq++ {
		if _, ok := view[seq]; !ok {
			t.Fatalf("the view lacks message %d of %d", seq, last)
		}
	}
	t.Logf("%d messages in %d bursts: %d events dropped, %d EventStale, the view shows all %d", last, bursts, b.drops.Load(), stales, len(view))
	if b.drops.Load() == 0 {
		t.Error("no event was dropped: the test did not overflow the window's buffer")
	}
}
