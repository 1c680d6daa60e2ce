package app

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// lastRow renders the message list's last row, as the list would.
func lastRow(v *messageView) *msgRow {
	r := v.list.CreateItem().(*msgRow)
	v.update(len(v.lines)-1, r)
	return r
}

// A message the team refused shows "failed" with a retry link; retrying
// asks the Backend to retry that ID (not to send a second copy).
func TestRetryRefusedMessage(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	h.fake.refuse = true
	test.Type(c.composer, "oops")
	enter(c.composer)
	h.settle()
	if got := joined(c.messages); !strings.HasSuffix(got, "oops | failed") {
		t.Fatalf("rows:\n%s", got)
	}
	row := lastRow(c.messages)
	if !row.retry.Visible() {
		t.Fatal("no retry link on a failed message")
	}
	id := c.messages.pend[0].id
	h.fake.refuse = false
	test.Tap(row.retry)
	h.settle()
	if len(h.fake.retried) != 1 || h.fake.retried[0] != id || len(h.fake.sent) != 1 {
		t.Fatalf("retried %q (want [%s]), sent %d times", h.fake.retried, id, len(h.fake.sent))
	}
	if got := joined(c.messages); !strings.HasSuffix(got, "oops | sent") {
		t.Fatalf("rows after retry:\n%s", got)
	}
	if lastRow(c.messages).retry.Visible() {
		t.Error("retry link still shown on a sent message")
	}
	// Its commit replaces the pending row.
	h.push(Event{Kind: EventMessage, Message: h.fake.msgs["general"][0]})
	if got := joined(c.messages); got != "[ann  09:00]\noops | sent" || len(c.messages.pend) != 0 {
		t.Fatalf("rows after commit:\n%s", got)
	}
	// Tapping a stale link (the row now shows a committed message) does nothing.
	test.Tap(lastRow(c.messages).retry)
	h.settle()
	if len(h.fake.retried) != 1 {
		t.Fatalf("retried %q", h.fake.retried)
	}
}

// A message the outbox never took (no ID) is sent again on retry; a retry
// that fails again shows "failed" again.
func TestRetryUnsentMessage(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	h.fake.sendErr = errors.New("could not save the message: disk full")
	test.Type(c.composer, "hello")
	enter(c.composer)
	h.settle()
	test.Tap(lastRow(c.messages).retry)
	h.settle()
	if got := joined(c.messages); !strings.HasSuffix(got, "hello | failed") || len(h.fake.sent) != 2 {
		t.Fatalf("sent %d times, rows:\n%s", len(h.fake.sent), got)
	}
	h.fake.sendErr = nil
	test.Tap(lastRow(c.messages).retry)
	h.settle()
	if len(h.fake.sent) != 3 || h.fake.sent[2].Text != "hello" || len(h.fake.retried) != 0 {
		t.Fatalf("sent %+v, retried %q", h.fake.sent, h.fake.retried)
	}
	if got := joined(c.messages); !strings.HasSuffix(got, "hello | sent") {
		t.Fatalf("rows:\n%s", got)
	}
}
