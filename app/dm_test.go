package app

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// A member's row in the panel starts a private conversation: it is listed
// under "Direct messages" by the other's name, not among the channels,
// and is written to like a channel.
func TestStartConversationFromMemberPanel(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	var bob *memberRow
	for _, r := range c.panel.rows {
		if r.m.Name == "bob" {
			bob = r
		}
		if r.m.ID == h.fake.self && r.write != nil {
			t.Error("the user can write to themselves")
		}
	}
	if bob == nil || bob.write == nil {
		t.Fatal("no message button on bob's row")
	}
	test.Tap(bob.write)
	h.settle()
	name := "dm-12D3KooWbob000-12D3KooWself00"
	if c.current != name || c.title.Text != "🔒 bob" {
		t.Fatalf("current %q title %q", c.current, c.title.Text)
	}
	if !slices.Equal(c.channels.dms, []string{name}) || slices.Contains(c.channels.names, name) {
		t.Fatalf("channels %v, conversations %v", c.channels.names, c.channels.dms)
	}
	test.Type(c.composer, "just between us")
	c.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.settle()
	if last := h.fake.sent[len(h.fake.sent)-1]; last.Channel != name || last.Text != "just between us" {
		t.Fatalf("sent %+v", last)
	}
	h.push(Event{Kind: EventMessage, Message: h.fake.msgs[name][0]})
	// Bob's answer shows here; in another channel it counts as unread in
	// the conversations' list.
	h.push(Event{Kind: EventMessage, Message: h.fake.commit(name, "12D3KooWbob000", "sure")})
	if !strings.HasSuffix(joined(c.messages), "just between us | sent\n[bob  09:00]\nsure") {
		t.Fatalf("rows:\n%s", joined(c.messages))
	}
	c.channels.list.Select(0) // general
	h.settle()
	h.push(Event{Kind: EventMessage, Message: h.fake.commit(name, "12D3KooWbob000", "still there?")})
	if c.channels.unread[name] != 1 {
		t.Fatalf("unread %d", c.channels.unread[name])
	}
	c.channels.dmList.Select(0)
	h.settle()
	if c.current != name || c.channels.unread[name] != 0 {
		t.Fatalf("current %q unread %d", c.current, c.channels.unread[name])
	}
}

// "New message…" picks one or more members for a group conversation.
func TestNewMessagePicksMembers(t *testing.T) {
	h := newHarness(t)
	h.fake.members = append(h.fake.members, Member{ID: "12D3KooWcarl00", Name: "carl", Online: true})
	c := h.openChat()
	menuItem(t, h.win, "New message…").Action()
	if c.picker == nil || !slices.Equal(c.picker.Options, []string{"bob", "carl"}) {
		t.Fatalf("picker %v", c.picker)
	}
	c.picker.SetSelected([]string{"carl", "bob"})
	c.pickerForm.Submit()
	h.settle()
	if c.current != "dm-12D3KooWbob000-12D3KooWcarl00-12D3KooWself00" || c.title.Text != "🔒 bob, carl" {
		t.Fatalf("current %q title %q", c.current, c.title.Text)
	}
	// The "+" of the conversations opens the same picker.
	c.picker = nil
	test.Tap(c.channels.newDM)
	if c.picker == nil {
		t.Fatal("the conversations' + did not open the picker")
	}
}

// Alone in the team, there is no one to write to: the user is told so.
func TestNewMessageAlone(t *testing.T) {
	h := newHarness(t)
	h.fake.members = h.fake.members[:1]
	c := h.openChat()
	c.newConversation()
	if c.picker != nil || h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("want an explanation, not a picker")
	}
}
