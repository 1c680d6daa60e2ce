package node

import (
	"bytes"
	"concord/internal/testutil"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestSearchOnEveryMember: a message is found on every member within a
// second of its commit; deleted messages and private conversations are not.
func TestSearchOnEveryMember(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	id, err := c.nodes[1].Send(ctx, "general", "the quarterly roadmap is ready")
	if err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	gone, err := c.nodes[1].Send(ctx, "general", "roadmap draft, ignore")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.nodes[0].DM(ctx, []string{"m1"}, "secret roadmap"); err != nil {
		t.Fatal(err)
	}
	for i, n := range c.nodes {
		testutil.WaitFor(t, time.Second-time.Since(committed)+time.Second, "the message to be searchable", func() bool {
			msgs, err := n.Search(ctx, "quarterly", "", 10)
			return err == nil && len(msgs) == 1 && msgs[0].ID == id
		})
		t.Logf("m%d finds it %v after commit", i, time.Since(committed).Round(time.Millisecond))
	}
	if err := c.nodes[1].Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	msgs, err := c.nodes[2].Search(ctx, "roadm*", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{id}) {
		t.Fatalf("roadm* found %v, want only %s (not the deleted one, not the private one)", ids, id)
	}
	if _, err := c.nodes[0].Search(ctx, "  ", "", 10); err == nil {
		t.Fatal("an empty query was accepted")
	}
}

// TestSearchFollowsEdits: within a second of an edit's commit, every
// member finds the message by its new words and no longer by its old ones.
func TestSearchFollowsEdits(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	id, err := c.nodes[1].Send(ctx, "general", "the quarterly roadmap is ready")
	if err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	for _, n := range c.nodes {
		testutil.WaitFor(t, 2*time.Second, "the message to be searchable", func() bool {
			msgs, err := n.Search(ctx, "quarterly", "", 10)
			return err == nil && len(msgs) == 1
		})
	}
	if err := c.nodes[1].Edit(ctx, id, "the annual plan is ready"); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	found := func(n *Node, query string) []string {
		msgs, err := n.Search(ctx, query, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
		return ids
	}
	for i, n := range c.nodes {
		testutil.WaitFor(t, time.Second-time.Since(committed)+50*time.Millisecond, "the edit to be searchable", func() bool {
			return slices.Equal(found(n, "annual"), []string{id}) && len(found(n, "quarterly")) == 0
		})
		t.Logf("m%d follows the edit %v after commit", i, time.Since(committed).Round(time.Millisecond))
	}
}

// TestSearchOwnPrivateMessages: a participant finds its private messages
// (opened, in its own index); a non-participant does not, and its index
// holds no word of them.
func TestSearchOwnPrivateMessages(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	id, err := c.nodes[0].DM(ctx, []string{c.ids[1].String()}, "the xylophone surprise is on friday")
	if err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	for _, i := range []int{0, 1} {
		testutil.WaitFor(t, 2*time.Second, "the participant to find its private message", func() bool {
			msgs, err := c.nodes[i].Search(ctx, "xylophone", "", 10)
			return err == nil && len(msgs) == 1 && msgs[0].ID == id && msgs[0].Text == "the xylophone surprise is on friday"
		})
	}
	if msgs, err := c.nodes[2].Search(ctx, "xylophone", "", 10); err != nil || len(msgs) != 0 {
		t.Fatalf("a non-participant found %v (%v)", msgs, err)
	}
	if err := c.nodes[2].search.CatchUp(ctx, searchSource{c.nodes[2].store, c.nodes[2]}); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(filepath.Join(c.dirs[2], "search.db"+suffix))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("xylophone")) {
			t.Fatalf("the non-participant's search.db%s holds a word of the private message", suffix)
		}
	}
}
