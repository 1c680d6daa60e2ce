package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"concord/dm"
	"concord/internal/testutil"
	"concord/storage"
)

// channelTexts is channel's history on n as texts, oldest first (nil when
// n does not have the channel).
func channelTexts(t *testing.T, n *Node, channel string) []string {
	t.Helper()
	msgs, err := n.store.History(channel, storage.Query{})
	if errors.Is(err, storage.ErrUnknownChannel) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// TestSendToChannelCreatedWhileAway: a member that was stopped while
// another created a channel, and sends to it right after it starts again
// (before it has heard from the leader, or caught up with it), delivers
// the message, exactly once, instead of refusing it as "channel unknown":
// after a plain restart, after its state was rebuilt from its own log
// (`concord repair`), and after it was reset to be sent the team's state.
func TestSendToChannelCreatedWhileAway(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"restart", func(*testing.T, string) {}},
		{"rebuild", func(t *testing.T, dir string) {
			if _, err := RebuildState(dir, log); err != nil {
				t.Fatal(err)
			}
		}},
		{"reset-from-team", func(t *testing.T, dir string) {
			if _, _, err := ResetFromTeam(dir, log); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t, 3)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			if _, err := c.nodes[2].Send(ctx, "general", "before"); err != nil {
				t.Fatal(err)
			}
			c.waitConverged()
			dir := c.dirs[2]
			if err := c.nodes[2].Close(); err != nil {
				t.Fatal(err)
			}
			c.nodes[2] = nil
			if err := c.nodes[0].CreateChannel(ctx, "later"); err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, dir)
			c.nodes[2] = c.start(dir)
			if _, err := c.nodes[2].Send(ctx, "later", "from the member that was away"); err != nil {
				t.Fatalf("send to a channel created while the member was away: %v", err)
			}
			everywhere(t, c, "later", "from the member that was away")
			// A channel nobody created is still refused, at once, by a
			// member caught up with a leader; nothing is queued.
			start := time.Now()
			_, err := c.nodes[2].Send(ctx, "nope", "to no channel")
			t.Logf("send to a channel nobody created: %v (after %v)", err, time.Since(start).Round(time.Millisecond))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "unknown channel") {
				t.Fatalf("send to a channel nobody created: %v, want ErrInvalid saying unknown channel", err)
			}
			if q, err := c.nodes[2].Outbox(); err != nil || len(q) != 0 {
				t.Fatalf("outbox after a refused send: %+v, %v", q, err)
			}
		})
	}
}

// TestSendToChannelJustCreated: a member sends to a channel the leader has
// just created, before the entry that created it has reached it (a
// follower learns of a commit a moment after the leader): it asks the
// leader how far the team is, applies that much, and delivers the message,
// instead of refusing it as "channel unknown".
func TestSendToChannelJustCreated(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l := c.leader()
	if l < 0 {
		t.Fatal("no leader")
	}
	leader, follower := c.nodes[l], c.nodes[(l+1)%3]
	behind := 0
	for k := range 20 {
		name := fmt.Sprintf("fresh-%d", k)
		if err := leader.CreateChannel(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := follower.store.Channel(name); err != nil {
			behind++
		}
		if _, err := follower.Send(ctx, name, "right away"); err != nil {
			t.Fatalf("send to #%s right after the leader created it: %v", name, err)
		}
	}
	t.Logf("the follower did not have the channel yet for %d of 20 sends", behind)
	if q, err := follower.Outbox(); err != nil || len(q) != 0 {
		t.Fatalf("outbox: %+v, %v", q, err)
	}
}

// TestSendToUnknownChannelWithoutQuorum: a member that cannot reach a
// leader, and does not know a channel, keeps a message to it in the outbox
// (ErrQueued) instead of judging it. Once the team is back, the team's log
// decides: the message to a channel created while the member was away is
// delivered; the one to a channel nobody created is refused, and shows in
// the outbox as failed with the reason, until it is retried once the
// channel exists. A private conversation's name it does not know is
// refused rather than queued: its text could not be sealed.
func TestSendToUnknownChannelWithoutQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dir := c.dirs[2]
	if err := c.nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[2] = nil
	if err := c.nodes[0].CreateChannel(ctx, "later"); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1} {
		if err := c.nodes[i].Close(); err != nil {
			t.Fatal(err)
		}
		c.nodes[i] = nil
	}
	c.nodes[2] = c.start(dir)
	m2 := c.nodes[2]
	send := func(channel, text string) (string, error) {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		defer scancel()
		return m2.Send(sctx, channel, text)
	}
	later, err := send("later", "to a channel created while away")
	if !errors.Is(err, ErrQueued) {
		t.Fatalf("send to a channel this member does not know, without quorum: %v, want ErrQueued", err)
	}
	nope, err := send("nope", "to a channel nobody created")
	if !errors.Is(err, ErrQueued) {
		t.Fatalf("send to a channel nobody created, without quorum: %v, want ErrQueued", err)
	}
	conv := dm.Channel([]string{c.ids[0].String(), c.ids[2].String()})
	if _, err := send(conv, "private"); err == nil || errors.Is(err, ErrQueued) {
		t.Fatalf("send to an unknown private conversation without quorum: %v, want a refusal", err)
	}
	if q, err := m2.Outbox(); err != nil || len(q) != 2 {
		t.Fatalf("outbox without quorum: %+v, %v; want the two messages", q, err)
	}

	for _, i := range []int{0, 1} {
		c.nodes[i] = c.start(c.dirs[i])
	}
	var failed storage.OutboxEntry
	testutil.WaitFor(t, 30*time.Second, "the outbox to settle", func() bool {
		q, err := m2.Outbox()
		if err != nil || len(q) != 1 || q[0].State != storage.OutboxFailed {
			return false
		}
		failed = q[0]
		return true
	})
	if failed.Envelope.ID != nope || failed.Reason != "unknown channel" {
		t.Fatalf("failed outbox entry: %s %q, want %s \"unknown channel\"", failed.Envelope.ID, failed.Reason, nope)
	}
	// Committed, but not acknowledged to a waiting sender: every member
	// gets it in its own time.
	everywhere(t, c, "later", "to a channel created while away")
	for i, n := range c.nodes {
		if _, err := n.store.Lookup(nope); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("m%d has the refused message: %v", i, err)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the delivered message marked sent", func() bool {
		e, err := m2.outbox.Get(later)
		return err == nil && e.State == storage.OutboxSent
	})

	// Once the channel exists, retrying delivers it. The team has just
	// got its quorum back: a creation committed by a leader that lost its
	// answer in an election is retried by Submit and refused as "channel
	// exists" (a known gap of ops committed straight through Raft, which
	// carry no ID to drop a repeat by); the channel is there either way.
	if err := c.nodes[1].CreateChannel(ctx, "nope"); err != nil && !strings.Contains(err.Error(), "channel exists") {
		t.Fatal(err)
	}
	if err := m2.Retry(ctx, nope); err != nil {
		t.Fatalf("retry once the channel exists: %v", err)
	}
	everywhere(t, c, "nope", "to a channel nobody created")
}

// everywhere waits until every member's channel holds text, once, and
// nothing else.
func everywhere(t *testing.T, c *testCluster, channel, text string) {
	t.Helper()
	err := testutil.Poll(t.Context(), 20*time.Second, 0, func() (bool, string) {
		state := ""
		for i, n := range c.nodes {
			got := channelTexts(t, n, channel)
			if !slices.Equal(got, []string{text}) {
				return false, fmt.Sprintf("m%d's #%s: %q", i, channel, got)
			}
			state += fmt.Sprintf(" m%d: %q", i, got)
		}
		return true, state
	})
	if err != nil {
		t.Fatalf("want #%s to hold %q once on every member: %v", channel, text, err)
	}
}
