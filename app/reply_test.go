package app

import (
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestReplyQuotesParent(t *testing.T) {
	h := newHarness(t)
	p := h.fake.commit("general", bob, "Lunch at noon? The usual place, or the new one")
	c := h.openChat()
	menuOf(t, c, "Lunch at noon?")
	choose(t, c, "Reply")
	if got := c.bar.text(); got != "replying to bob: Lunch at noon? The usual place, or the new one" {
		t.Fatalf("bar %q", got)
	}
	test.Tap(c.bar.close)
	if c.replyTo != "" || c.bar.text() != "" {
		t.Fatalf("✕ left reply %q bar %q", c.replyTo, c.bar.text())
	}
	c.startReply(p.ID)
	test.Type(c.composer, "the new one")
	enter(c.composer)
	h.settle()
	if len(h.fake.sent) != 1 || h.fake.sent[0].ReplyTo != p.ID || h.fake.sent[0].Text != "the new one" {
		t.Fatalf("sent %+v", h.fake.sent)
	}
	if c.replyTo != "" || c.bar.text() != "" {
		t.Fatalf("after sending: reply %q bar %q", c.replyTo, c.bar.text())
	}
	want := "[bob  09:00]\nLunch at noon? The usual place, or the new one\n[ann  09:00]\n↪ bob: Lunch at noon? The usual place, or the …\nthe new one | sent"
	if got := joined(c.messages); got != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
	// Committed, it keeps its quote.
	h.push(Event{Kind: EventMessage, Message: h.fake.msgs["general"][1]})
	if got := joined(c.messages); got != want {
		t.Fatalf("rows after commit:\n%s\nwant:\n%s", got, want)
	}
}

// Tapping a reply's quote pages older messages in until the parent is in
// the window, scrolls to it and highlights it.
func TestJumpToParent(t *testing.T) {
	h := newHarness(t)
	parent := h.fake.commit("general", bob, "the original question")
	for i := range 250 {
		h.fake.commit("general", bob, fmt.Sprint("filler ", i))
	}
	reply := h.fake.commit("general", h.fake.self, "the answer")
	h.fake.msgs["general"][len(h.fake.msgs["general"])-1].ReplyTo = parent.ID
	c := h.openChat()
	if _, ok := c.messages.message(parent.ID); ok {
		t.Fatal("the parent is in the first page: the test needs more filler")
	}
	q := lineWith(t, c.messages, lineQuote, "an earlier message")
	if c.messages.lines[q].id != reply.ID {
		t.Fatalf("quote row belongs to %q", c.messages.lines[q].id)
	}
	test.Tap(row(t, c.messages, q))
	h.settle()
	if _, ok := c.messages.message(parent.ID); !ok || c.jumping != "" {
		t.Fatalf("parent not loaded (jumping %q, %d messages)", c.jumping, len(c.messages.msgs))
	}
	i := lineWith(t, c.messages, lineText, "the original question")
	if !c.messages.lines[i].highlight || c.messages.target != parent.ID {
		t.Fatalf("parent not highlighted: %+v", c.messages.lines[i])
	}
	if off := c.messages.list.GetScrollOffset(); off > float32(i+1)*c.messages.rowHeight() {
		t.Fatalf("scrolled to %v, parent row %d at %v", off, i, float32(i)*c.messages.rowHeight())
	}
	// The quote now names the parent.
	if !strings.Contains(joined(c.messages), "↪ bob: the original question") {
		t.Fatalf("quote not updated:\n%s", joined(c.messages))
	}
	// A parent that no page holds is reported.
	h.fake.msgs["general"][len(h.fake.msgs["general"])-1].ReplyTo = "gone"
	c.jumpTo("gone")
	h.settle()
	if !strings.Contains(c.lastError, "Could not show the message") {
		t.Fatalf("error %q", c.lastError)
	}
}

// Missed changes (EventStale) reread the open channel.
func TestStaleReloads(t *testing.T) {
	h := newHarness(t)
	m := h.fake.commit("general", bob, "before")
	c := h.openChat()
	h.fake.mu.Lock()
	h.fake.find(m.ID).Text = "after"
	h.fake.mu.Unlock()
	h.push(Event{Kind: EventStale})
	h.settle()
	if got := joined(c.messages); got != "[bob  09:00]\nafter" {
		t.Fatalf("rows:\n%s", got)
	}
}
