package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"concord/consensus"
	"concord/internal/testutil"
	"concord/version"
)

// TestBlockedOnUpgrade: an entry committed by a newer release (protocol
// above this one's) stops every member of this release at that entry: each
// says which release it needs (status), keeps serving the history it has,
// and keeps what is typed in its outbox with that sentence instead of
// sending it; nothing after the entry is applied, nothing is skipped.
func TestBlockedOnUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := c.nodes[0].Send(ctx, "general", "before the upgrade"); err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	l := c.nodes[c.leader()]
	at, err := l.replica.AppendRaw(ctx, consensus.FutureEntry("0.9.0", version.Protocol+1))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range c.nodes {
		testutil.WaitFor(t, 20*time.Second, "every member blocked on the upgrade", func() bool {
			b := n.Status().BlockedOnUpgrade
			return b != nil && b.Release == "0.9.0" && b.At == at
		})
		if got := n.store.AppliedIndex(); got != at-1 {
			t.Errorf("m%d applied %d, want %d (everything before the entry, nothing from it on)", i, got, at-1)
		}
		if msgs, err := n.History(ctx, "general", 0); err != nil || len(msgs) != 1 {
			t.Errorf("m%d history while blocked: %v, %d messages, want 1", i, err, len(msgs))
		}
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	_, err = c.nodes[1].Send(sctx, "general", "typed while blocked")
	if !errors.Is(err, ErrQueued) || !strings.Contains(err.Error(), version.NeedsUpgrade("0.9.0")) {
		t.Fatalf("send while blocked: %v, want ErrQueued saying %q", err, version.NeedsUpgrade("0.9.0"))
	}
	if q, _ := c.nodes[1].Outbox(); len(q) != 1 {
		t.Fatalf("outbox while blocked: %d entries, want the message", len(q))
	}
	if got := c.nodes[2].store.AppliedIndex(); got != at-1 {
		t.Fatalf("m2 applied %d after more entries, want it still at %d", got, at-1)
	}
}

// TestPins: members pin and unpin messages of a channel; every member
// lists them.
func TestPins(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a, _ := c.nodes[0].Send(ctx, "general", "first")
	b, err := c.nodes[1].Send(ctx, "general", "second")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[2].Pin(ctx, b, false); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[1].Pin(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[0].Pin(ctx, "no-such-message", false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pin of an unknown message: %v, want ErrInvalid", err)
	}
	c.waitConverged()
	for i, n := range c.nodes {
		pins, err := n.Pins(ctx, "general")
		if err != nil || len(pins) != 2 || pins[0].ID != a || pins[1].ID != b || pins[0].Text != "first" || pins[1].Text != "second" {
			t.Fatalf("m%d pins: %v %+v", i, err, pins)
		}
	}
	if err := c.nodes[0].Pin(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	if pins, err := c.nodes[2].Pins(ctx, "general"); err != nil || len(pins) != 1 || pins[0].ID != b {
		t.Fatalf("pins after an unpin: %v %+v", err, pins)
	}
}
