package node

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestChatOps: replies, edits, deletions and reactions reach every member
// the same way, and the rules hold (only the author edits; the author or an
// admin deletes).
func TestChatOps(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin, bob, cat := c.nodes[0], c.nodes[1], c.nodes[2]
	q, err := bob.Send(ctx, "general", "lunch?")
	if err != nil {
		t.Fatal(err)
	}
	r, err := cat.Reply(ctx, q, "yes", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Edit(ctx, q, "dinner?"); err == nil || !strings.Contains(err.Error(), "only the author") {
		t.Fatalf("a non-author edited: %v", err)
	}
	if err := cat.Delete(ctx, q); err == nil || !strings.Contains(err.Error(), "author or an admin") {
		t.Fatalf("a non-author deleted: %v", err)
	}
	if err := bob.Edit(ctx, q, "lunch at 12?"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{admin, cat} {
		if on, err := n.React(ctx, q, "👍"); err != nil || !on {
			t.Fatalf("react: %v %v", on, err)
		}
	}
	if on, err := admin.React(ctx, q, "👍"); err != nil || on {
		t.Fatalf("second react should take it back: %v %v", on, err)
	}
	if err := admin.Delete(ctx, r); err != nil {
		t.Fatalf("an admin could not delete: %v", err)
	}
	c.waitConverged()
	for i, n := range c.nodes {
		h, err := n.History(ctx, "general", 0)
		if err != nil {
			t.Fatal(err)
		}
		got := h[len(h)-2:]
		if got[0].ID != q || got[0].Text != "lunch at 12?" || got[0].EditedAt.IsZero() ||
			!reflect.DeepEqual(got[0].Reactions, map[string][]string{"👍": {c.ids[2].String()}}) {
			t.Fatalf("m%d: question = %+v", i, got[0])
		}
		if got[1].ID != r || got[1].ReplyTo != q || !got[1].Deleted || got[1].Text != "" {
			t.Fatalf("m%d: reply = %+v", i, got[1])
		}
	}
}

func TestMentions(t *testing.T) {
	names := map[string]string{"a": "ann", "b": "Bob", "c": "ann marie"}
	tests := []struct {
		text string
		want []string
	}{
		{"hi @ann", []string{"a"}},
		{"@BOB, look", []string{"b"}},
		{"@annie is not ann", nil},
		{"@ann marie and @ann", []string{"a", "c"}},
		{"mail ann@example.org", nil},
		{"no at sign", nil},
		{"write to bob@ann.org", nil},
	}
	for _, tc := range tests {
		if got := Mentions(tc.text, names); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Mentions(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}
