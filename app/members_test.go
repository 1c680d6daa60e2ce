package app

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// tapDialogButton taps the button labelled label in the top overlay.
func tapDialogButton(t *testing.T, w fyne.Window, label string) {
	t.Helper()
	top := w.Canvas().Overlays().Top()
	if top == nil {
		t.Fatalf("no dialog to tap %q in", label)
	}
	for _, o := range test.LaidOutObjects(top) {
		if b, ok := o.(*widget.Button); ok && b.Text == label {
			test.Tap(b)
			return
		}
	}
	t.Fatalf("no button %q in the dialog", label)
}

// panelRows is the member panel as text: "name [badges] online|offline +remove".
func panelRows(p *memberPanel) string {
	var out []string
	for _, r := range p.rows {
		s := r.name.Text + " [" + r.badges.Text + "]"
		if r.remove != nil {
			s += " +remove"
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

func TestMemberPanel(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	if got, want := panelRows(c.panel), "ann (you) [leader · admin]\nbob [voter] +remove"; got != want {
		t.Fatalf("panel:\n%s\nwant:\n%s", got, want)
	}
	if c.panel.title.Text != "Members · 2 of 2 online" {
		t.Errorf("title %q", c.panel.title.Text)
	}
	// Liveness and leadership arrive with the status ticks.
	h.fake.setMembers(
		Member{ID: "12D3KooWself00", Name: "ann", Role: storage.RoleAdmin, Voter: true, Online: true},
		Member{ID: "12D3KooWbob000", Name: "bob", Role: storage.RoleMember, Voter: true, Online: false, Leader: true},
		Member{ID: "12D3KooWcarl00", Name: "carl", Role: storage.RoleMember, Online: true},
	)
	h.push(Event{Kind: EventStatus})
	want := "ann (you) [voter · admin]\ncarl [] +remove\nbob [leader · offline] +remove"
	if got := panelRows(c.panel); got != want {
		t.Fatalf("panel:\n%s\nwant:\n%s", got, want)
	}
	if c.panel.title.Text != "Members · 2 of 3 online" {
		t.Errorf("title %q", c.panel.title.Text)
	}
	if c.panel.rows[2].dot.FillColor == c.panel.rows[1].dot.FillColor {
		t.Error("offline and online dots look the same")
	}
	// The panel hides and comes back.
	test.Tap(c.people)
	if c.panel.content.Visible() {
		t.Fatal("panel still shown")
	}
	test.Tap(c.people)
	if !c.panel.content.Visible() {
		t.Fatal("panel not shown again")
	}
}

func TestRemoveMember(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	bob := c.panel.rows[1]
	// Cancel does nothing.
	test.Tap(bob.remove)
	if c.confirm == nil || h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("no confirmation asked")
	}
	tapDialogButton(t, h.win, "Cancel")
	h.settle()
	if len(h.fake.removed) != 0 {
		t.Fatalf("removed %q after Cancel", h.fake.removed)
	}
	// A failure is shown, and bob stays.
	h.fake.removeErr = errors.New("no quorum")
	test.Tap(bob.remove)
	tapDialogButton(t, h.win, "Remove")
	h.settle()
	if len(h.fake.removed) != 1 || h.win.Canvas().Overlays().Top() == nil || len(c.panel.rows) != 2 {
		t.Fatalf("removed %q, error shown %v, rows %d", h.fake.removed, h.win.Canvas().Overlays().Top() != nil, len(c.panel.rows))
	}
	tapDialogButton(t, h.win, "OK")
	h.fake.removeErr = nil
	test.Tap(bob.remove)
	tapDialogButton(t, h.win, "Remove")
	h.settle()
	if len(h.fake.removed) != 2 || h.fake.removed[1] != "12D3KooWbob000" {
		t.Fatalf("removed %q", h.fake.removed)
	}
	if got := panelRows(c.panel); got != "ann (you) [leader · admin]" {
		t.Fatalf("panel after removal:\n%s", got)
	}
}

// Only admins get the remove action.
func TestRemoveOnlyForAdmins(t *testing.T) {
	h := newHarness(t)
	h.fake.members[0].Role = storage.RoleMember
	c := h.openChat()
	if got, want := panelRows(c.panel), "ann (you) [leader]\nbob [voter]"; got != want {
		t.Fatalf("panel:\n%s\nwant:\n%s", got, want)
	}
}

func TestInviteDialog(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	test.Tap(c.panel.invite)
	h.settle()
	if c.inviteCode == nil || c.inviteCode.Text != "good-code" || h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("no invite dialog with the code")
	}
	test.Tap(c.copyCode)
	if got := fyne.CurrentApp().Clipboard().Content(); got != "good-code" {
		t.Fatalf("clipboard %q", got)
	}
	if c.copyCode.Text != "Copied" {
		t.Errorf("copy button says %q", c.copyCode.Text)
	}
	// The menu offers it too.
	menuItem(t, h.win, "Invite someone…").Action()
	h.settle()
	if len(h.win.Canvas().Overlays().List()) != 2 {
		t.Errorf("menu did not open a second invite dialog")
	}
}
