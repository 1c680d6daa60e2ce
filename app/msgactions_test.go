package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

const bob = "12D3KooWbob000"

// row renders line i of v in a row as the list would.
func row(t *testing.T, v *messageView, i int) *msgRow {
	t.Helper()
	r, ok := v.list.CreateItem().(*msgRow)
	if !ok || i < 0 || i >= len(v.lines) {
		t.Fatalf("no row %d of %d", i, len(v.lines))
	}
	v.update(i, r)
	return r
}

// lineWith is the index of the first line of kind whose text contains s.
func lineWith(t *testing.T, v *messageView, kind lineKind, s string) int {
	t.Helper()
	i := slices.IndexFunc(v.lines, func(l line) bool { return l.kind == kind && strings.Contains(l.text, s) })
	if i < 0 {
		t.Fatalf("no line of kind %d with %q in:\n%s", kind, s, joined(v))
	}
	return i
}

// menuOf right-clicks the first line with s and returns the menu's labels.
func menuOf(t *testing.T, c *chat, s string) []string {
	t.Helper()
	c.menuShown = nil
	test.TapSecondary(row(t, c.messages, lineWith(t, c.messages, lineText, s)))
	if c.menuShown == nil {
		t.Fatalf("no menu for %q", s)
	}
	var out []string
	for _, it := range c.menuShown.Items {
		out = append(out, it.Label)
	}
	return out
}

// choose runs the menu item labelled label.
func choose(t *testing.T, c *chat, label string) {
	t.Helper()
	for _, it := range c.menuShown.Items {
		if it.Label == label {
			it.Action()
			return
		}
	}
	t.Fatalf("no %q in the menu", label)
}

func TestEditOwnMessage(t *testing.T) {
	h := newHarness(t)
	h.fake.commit("general", bob, "hi ann")
	mine := h.fake.commit("general", h.fake.self, "helo")
	c := h.openChat()
	if got := strings.Join(menuOf(t, c, "helo"), ","); got != "Reply,Add reaction…,Pin to channel,Edit,Delete…" {
		t.Fatalf("menu of own message: %s", got)
	}
	choose(t, c, "Edit")
	if c.composer.Text != "helo" || c.bar.text() != "editing your message: " {
		t.Fatalf("composer %q bar %q", c.composer.Text, c.bar.text())
	}
	c.composer.SetText("hello")
	enter(c.composer)
	h.settle()
	if len(h.fake.edits) != 1 || h.fake.edits[0] != mine.ID+"=hello" || len(h.fake.sent) != 0 {
		t.Fatalf("edits %q sent %+v", h.fake.edits, h.fake.sent)
	}
	if c.composer.Text != "" || c.bar.text() != "" {
		t.Fatalf("after saving: composer %q bar %q", c.composer.Text, c.bar.text())
	}
	h.push(Event{Kind: EventChanged, Message: h.fake.message(mine.ID)})
	if got := joined(c.messages); !strings.HasSuffix(got, "hello (edited) | sent") {
		t.Fatalf("rows:\n%s", got)
	}

	// Up in the empty composer edits the last own message; Escape cancels.
	c.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	if c.editing != mine.ID || c.composer.Text != "hello" {
		t.Fatalf("Up: editing %q composer %q", c.editing, c.composer.Text)
	}
	c.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if c.editing != "" || c.composer.Text != "" || c.bar.text() != "" {
		t.Fatalf("Escape: editing %q composer %q bar %q", c.editing, c.composer.Text, c.bar.text())
	}
	// Saving an unchanged text commits nothing.
	c.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	enter(c.composer)
	h.settle()
	if len(h.fake.edits) != 1 || c.editing != "" {
		t.Fatalf("unchanged edit: edits %q editing %q", h.fake.edits, c.editing)
	}
	// Up with text in the composer moves the cursor as usual.
	test.Type(c.composer, "draft")
	c.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	if c.editing != "" || c.composer.Text != "draft" {
		t.Fatalf("Up with a draft: editing %q composer %q", c.editing, c.composer.Text)
	}
}

func TestEditRefusedIsShown(t *testing.T) {
	h := newHarness(t)
	h.fake.commit("general", bob, "bob's")
	mine := h.fake.commit("general", h.fake.self, "mine")
	c := h.openChat()
	// No Edit on someone else's message; the admin may delete it.
	if got := strings.Join(menuOf(t, c, "bob's"), ","); got != "Reply,Add reaction…,Pin to channel,Delete…" {
		t.Fatalf("menu of bob's message: %s", got)
	}
	// The team's refusal is shown in a dialog.
	h.fake.actionErr = errors.New("invalid request: no quorum")
	c.startEdit(mine.ID)
	c.composer.SetText("changed")
	enter(c.composer)
	h.settle()
	if c.lastError != "Could not edit the message: Invalid request: no quorum" || h.win.Canvas().Overlays().Top() == nil {
		t.Fatalf("error %q overlay %v", c.lastError, h.win.Canvas().Overlays().Top())
	}
	// An edit of another's message (e.g. raced) gets the team's words.
	h.fake.actionErr = nil
	c.editing = h.fake.msgs["general"][0].ID
	c.saveEdit("x")
	h.settle()
	if !strings.Contains(c.lastError, "only the author can edit") {
		t.Fatalf("error %q", c.lastError)
	}
}

func TestDeleteMessage(t *testing.T) {
	h := newHarness(t)
	b := h.fake.commit("general", bob, "spam")
	c := h.openChat()
	menuOf(t, c, "spam")
	choose(t, c, "Delete…")
	tapDialogButton(t, h.win, "Delete")
	h.settle()
	h.push(Event{Kind: EventChanged, Message: h.fake.message(b.ID)})
	i := lineWith(t, c.messages, lineDeleted, "message deleted")
	if r := row(t, c.messages, i); !r.text.TextStyle.Italic || r.text.Importance != widget.LowImportance {
		t.Fatalf("deleted row style %+v importance %v", r.text.TextStyle, r.text.Importance)
	}
	if strings.Contains(joined(c.messages), "spam") {
		t.Fatalf("deleted text still shown:\n%s", joined(c.messages))
	}

	// A member who is not an admin is not offered to delete others'
	// messages, and a refusal by the team is shown.
	h2 := newHarness(t)
	h2.fake.members[0].Role = storage.RoleMember
	b2 := h2.fake.commit("general", bob, "bob's")
	c2 := h2.openChat()
	if got := strings.Join(menuOf(t, c2, "bob's"), ","); got != "Reply,Add reaction…,Pin to channel" {
		t.Fatalf("member's menu of bob's message: %s", got)
	}
	c2.confirmDelete(b2.ID)
	tapDialogButton(t, h2.win, "Delete")
	h2.settle()
	if !strings.Contains(c2.lastError, "only the author or an admin can delete") {
		t.Fatalf("error %q", c2.lastError)
	}
}

func TestReactions(t *testing.T) {
	h := newHarness(t)
	b := h.fake.commit("general", bob, "ship it?")
	c := h.openChat()
	menuOf(t, c, "ship it?")
	choose(t, c, "Add reaction…")
	if c.reactPicker == nil || !c.reactPicker.Visible() {
		t.Fatal("no reaction picker")
	}
	var buttons []*widget.Button
	for _, o := range test.LaidOutObjects(c.reactPicker.Content) {
		if bt, ok := o.(*widget.Button); ok {
			buttons = append(buttons, bt)
		}
	}
	if len(buttons) != len(commonEmoji) || buttons[0].Text != commonEmoji[0] {
		t.Fatalf("picker offers %d buttons", len(buttons))
	}
	test.Tap(buttons[0])
	h.settle()
	if c.reactPicker.Visible() || len(h.fake.reacts) != 1 || h.fake.reacts[0] != b.ID+" "+commonEmoji[0] {
		t.Fatalf("picker visible %v, reacts %q", c.reactPicker.Visible(), h.fake.reacts)
	}
	h.push(Event{Kind: EventChanged, Message: h.fake.message(b.ID)})
	i := lineWith(t, c.messages, lineReactions, commonEmoji[0]+" 1")
	if l := c.messages.lines[i]; len(l.reactions) != 1 || !l.reactions[0].mine {
		t.Fatalf("reactions %+v", l.reactions)
	}
	// The chip toggles the user's reaction off again.
	r := row(t, c.messages, i)
	chip := r.chips.Objects[0].(*chip)
	if !chip.Visible() || chip.label.Text != commonEmoji[0]+" 1" {
		t.Fatalf("chip %q visible %v", chip.label.Text, chip.Visible())
	}
	test.Tap(chip)
	h.settle()
	h.push(Event{Kind: EventChanged, Message: h.fake.message(b.ID)})
	if len(h.fake.reacts) != 2 || strings.Contains(joined(c.messages), commonEmoji[0]) {
		t.Fatalf("reacts %q rows:\n%s", h.fake.reacts, joined(c.messages))
	}
	// A change to a message of another channel, or not in the window, is ignored.
	o := h.fake.commit("random", bob, "elsewhere")
	h.fake.mu.Lock()
	h.fake.find(o.ID).Text = "changed"
	h.fake.mu.Unlock()
	before := joined(c.messages)
	h.push(Event{Kind: EventChanged, Message: h.fake.message(o.ID)})
	if joined(c.messages) != before {
		t.Fatalf("rows changed:\n%s", joined(c.messages))
	}
}

func TestHoverShowsMoreLink(t *testing.T) {
	h := newHarness(t)
	h.fake.commit("general", bob, "hover me")
	c := h.openChat()
	r := row(t, c.messages, lineWith(t, c.messages, lineText, "hover me"))
	r.MouseIn(nil)
	if !r.more.Visible() {
		t.Fatal("no ⋯ link while hovered")
	}
	test.Tap(r.more)
	if c.menuShown == nil || c.menuShown.Items[0].Label != "Reply" {
		t.Fatal("⋯ did not open the menu")
	}
	r.MouseOut()
	if r.more.Visible() {
		t.Fatal("⋯ link left after the pointer left")
	}
	hdr := row(t, c.messages, 0)
	hdr.MouseIn(nil)
	if hdr.more.Visible() {
		t.Fatal("⋯ on a header row")
	}
}

// TestEditQueuedIsNotAFailure: without quorum the edit waits in the outbox;
// the user is told it is queued, not that it failed.
func TestEditQueuedIsNotAFailure(t *testing.T) {
	h := newHarness(t)
	mine := h.fake.commit("general", h.fake.self, "mine")
	c := h.openChat()
	h.fake.actionErr = fmt.Errorf("edit: %w", ErrQueued)
	c.startEdit(mine.ID)
	c.composer.SetText("changed")
	enter(c.composer)
	h.settle()
	if !strings.Contains(c.lastError, "queued, the team applies it when it has quorum again") {
		t.Fatalf("shown %q, want that the edit is queued", c.lastError)
	}
}
