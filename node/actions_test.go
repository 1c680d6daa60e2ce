package node

import (
	"concord/internal/testutil"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// queuedOp runs an edit, deletion or reaction that cannot commit (the
// member is cut off) and checks it says "queued".
func queuedOp(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := op(ctx); !errors.Is(err, ErrQueued) {
		t.Fatalf("%s without quorum: %v, want ErrQueued", what, err)
	}
}

// waitChanges waits until every member's change feed has n changes: each
// applied edit, deletion or reaction adds one, a deduplicated repeat none.
func waitChanges(t *testing.T, c *testCluster, n uint64) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("%d changes everywhere", n), func() bool {
		for _, node := range c.nodes {
			if got, err := node.store.LastChange(); err != nil || got < n {
				return false
			}
		}
		return true
	})
	for i, node := range c.nodes {
		if got, _ := node.store.LastChange(); got != n {
			t.Fatalf("m%d applied %d changes, want %d (an op applied twice?)", i, got, n)
		}
	}
}

// TestActionsDuringPartition: edits, deletions and reactions made on a
// member cut off from the team wait in its outbox (the call says queued),
// even on messages still queued themselves; once healed each lands once,
// after its message, on every member.
func TestActionsDuringPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	m := (max(c.leader(), 0) + 1) % 3
	n := c.nodes[m]
	old, err := n.Send(ctx, "general", "draft")
	if err != nil {
		t.Fatal(err)
	}
	c.partition(m)
	fresh, err := n.SendNoWait(ctx, "general", "typed offline")
	if err != nil {
		t.Fatal(err)
	}
	oops, err := n.SendNoWait(ctx, "general", "oops")
	if err != nil {
		t.Fatal(err)
	}
	queuedOp(t, "edit", func(ctx context.Context) error { return n.Edit(ctx, old, "final") })
	queuedOp(t, "edit of a queued message", func(ctx context.Context) error { return n.Edit(ctx, fresh, "typed offline, edited") })
	queuedOp(t, "delete of a queued message", func(ctx context.Context) error { return n.Delete(ctx, oops) })
	wantOn := []bool{true, true, false} // 👍 on, 🎉 on, 🎉 off: a toggle counts what is queued
	for i, emoji := range []string{"👍", "🎉", "🎉"} {
		queuedOp(t, "react", func(ctx context.Context) error {
			on, err := n.React(ctx, old, emoji)
			if on != wantOn[i] {
				t.Fatalf("reaction %d (%s) on = %v, want %v", i, emoji, on, wantOn[i])
			}
			return err
		})
	}
	if got := n.drain.Queued(); got != 8 {
		t.Fatalf("%d queued on the cut-off member, want 2 messages and 6 changes", got)
	}
	c.heal(m)
	waitDrained(t, n)
	c.waitConverged()
	waitChanges(t, c, 6)
	self := c.ids[m].String()
	for i, node := range c.nodes {
		o, err1 := node.store.Lookup(old)
		f, err2 := node.store.Lookup(fresh)
		x, err3 := node.store.Lookup(oops)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("m%d: %v", i, err)
		}
		if o.Text != "final" || !o.EditedAt.After(o.CommittedAt) || !reflect.DeepEqual(o.Reactions, map[string][]string{"👍": {self}}) {
			t.Fatalf("m%d: edited message = %+v", i, o)
		}
		// It may ride in the same entry as its message, so the same stamp;
		// the new text shows it was applied after (before, it would have
		// been refused: no such message).
		if f.Text != "typed offline, edited" || f.EditedAt.IsZero() || f.EditedAt.Before(f.CommittedAt) {
			t.Fatalf("m%d: message edited while queued = %+v", i, f)
		}
		if !x.Deleted || x.Text != "" {
			t.Fatalf("m%d: message deleted while queued = %+v", i, x)
		}
	}
}

// TestActionCrashPoints: an edit queued and then crashed on (before
// commit), and edits committed but not yet marked sent when the member
// crashes (so they are proposed again after the restart), each apply
// exactly once.
func TestActionCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c, held := heldCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	m := (c.leader() + 1) % 3
	id, err := c.nodes[m].Send(ctx, "general", "v0")
	if err != nil {
		t.Fatal(err)
	}
	c.partition(m)
	for k := 1; k <= 3; k++ {
		queuedOp(t, "edit", func(ctx context.Context) error { return c.nodes[m].Edit(ctx, id, fmt.Sprintf("v%d", k)) })
	}
	c.crash(m)
	c.heal(m)
	c.nodes[m] = c.start(c.dirs[m])
	waitDrained(t, c.nodes[m])
	waitChanges(t, c, 3)

	held.Store(true) // the crash comes after the commits, before "sent"
	for k := 4; k <= 13; k++ {
		if err := c.nodes[m].Edit(ctx, id, fmt.Sprintf("v%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	crashAfterCommit(t, c, m, held, "edits")
	c.waitConverged()
	waitChanges(t, c, 13)
	for i, node := range c.nodes {
		if msg, err := node.store.Lookup(id); err != nil || msg.Text != "v13" {
			t.Fatalf("m%d: %+v %v, want the last edit", i, msg, err)
		}
	}
}
