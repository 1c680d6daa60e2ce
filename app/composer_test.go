package app

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
)

func enter(c *composer) { c.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) }

// shiftEnter is what Fyne's desktop driver delivers for Shift+Enter.
func shiftEnter(c *composer) {
	c.KeyDown(&fyne.KeyEvent{Name: desktop.KeyShiftLeft})
	c.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	c.KeyUp(&fyne.KeyEvent{Name: desktop.KeyShiftLeft})
}

func TestComposerFocusedWhenChannelOpens(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	if h.win.Canvas().Focused() != c.composer {
		t.Fatalf("focused %T, want the composer", h.win.Canvas().Focused())
	}
}

func TestComposerEnterSendsShiftEnterDoesNot(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	test.Type(c.composer, "first")
	shiftEnter(c.composer)
	test.Type(c.composer, "second")
	if len(h.fake.sent) != 0 {
		t.Fatalf("Shift+Enter sent %+v", h.fake.sent)
	}
	if c.composer.Text != "first\nsecond" {
		t.Fatalf("composer text %q", c.composer.Text)
	}
	enter(c.composer)
	h.settle()
	if len(h.fake.sent) != 1 || h.fake.sent[0].Text != "first\nsecond" || h.fake.sent[0].Channel != "general" {
		t.Fatalf("sent %+v", h.fake.sent)
	}
	if c.composer.Text != "" {
		t.Errorf("composer not cleared: %q", c.composer.Text)
	}
	if got := joined(c.messages); got != "[ann  09:00]\nfirst | sent\nsecond" {
		t.Fatalf("rows:\n%s", got)
	}
	// The committed message replaces the pending row.
	m := h.fake.msgs["general"][0]
	h.push(Event{Kind: EventMessage, Message: m})
	if got := joined(c.messages); got != "[ann  09:00]\nfirst | sent\nsecond" {
		t.Fatalf("rows after commit:\n%s", got)
	}
	if len(c.messages.pend) != 0 {
		t.Errorf("pending rows left: %d", len(c.messages.pend))
	}
}

func TestComposerEmptyEnterDoesNothing(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	test.Type(c.composer, "   ")
	enter(c.composer)
	h.settle()
	if len(h.fake.sent) != 0 {
		t.Fatalf("sent %+v", h.fake.sent)
	}
}

func TestSendQueuedAndFailed(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	h.fake.offline = true
	test.Type(c.composer, "later")
	enter(c.composer)
	h.settle()
	if got := joined(c.messages); !strings.HasSuffix(got, "later | queued") {
		t.Fatalf("rows:\n%s", got)
	}
	// Quorum returns: the committed message (same ID) shows as sent.
	p := c.messages.pend[0]
	m := h.fake.commit("general", h.fake.self, "later")
	m.ID = p.id
	h.push(Event{Kind: EventMessage, Message: m})
	if got := joined(c.messages); !strings.HasSuffix(got, "later | sent") || len(c.messages.pend) != 0 {
		t.Fatalf("rows after commit:\n%s", got)
	}

	h.fake.offline = false
	h.fake.sendErr = errors.New("invalid: text too long")
	test.Type(c.composer, "bad")
	enter(c.composer)
	h.settle()
	if got := joined(c.messages); !strings.HasSuffix(got, "bad | failed") {
		t.Fatalf("rows:\n%s", got)
	}
}

// A queued message stays visible across channel switches until it commits.
func TestQueuedSurvivesChannelSwitch(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	h.fake.offline = true
	test.Type(c.composer, "later")
	enter(c.composer)
	h.settle()
	id := c.messages.pend[0].id
	c.open("random")
	h.settle()
	if strings.Contains(joined(c.messages), "later") {
		t.Fatal("pending message shown in the wrong channel")
	}
	c.open("general")
	h.settle()
	if got := joined(c.messages); !strings.HasSuffix(got, "later | queued") {
		t.Fatalf("rows:\n%s", got)
	}
	c.open("random")
	h.settle()
	m := h.fake.commit("general", h.fake.self, "later")
	m.ID = id
	h.push(Event{Kind: EventMessage, Message: m})
	if len(c.pending["general"]) != 0 {
		t.Fatal("committed message still pending")
	}
	c.open("general")
	h.settle()
	if got := joined(c.messages); got != "[ann  09:00]\nlater | sent" {
		t.Fatalf("rows:\n%s", got)
	}
}

// TestComposerTooLong: Enter on a text over the limit sends nothing, keeps
// the text to be shortened and says the limit in a dialog.
func TestComposerTooLong(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	long := strings.Repeat("x", 40<<10)
	c.composer.SetText(long)
	enter(c.composer)
	h.settle()
	if len(h.fake.sent) != 0 {
		t.Fatalf("sent %d messages", len(h.fake.sent))
	}
	if c.composer.Text != long {
		t.Error("the text left the composer")
	}
	overlay := h.win.Canvas().Overlays().Top()
	if overlay == nil {
		t.Fatal("no dialog")
	}
	if all := labelsIn(overlay); !strings.Contains(all, "at most 32 KiB") {
		t.Fatalf("dialog says %q, want the limit", all)
	}
}
