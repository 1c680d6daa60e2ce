package app

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

func key(c *composer, name fyne.KeyName) { c.TypedKey(&fyne.KeyEvent{Name: name}) }

// offered is the completion's names, the selected one in brackets.
func offered(cp *completion) string {
	if !cp.open() {
		return ""
	}
	var out []string
	for i, n := range cp.names {
		if i == cp.sel {
			n = "[" + n + "]"
		}
		out = append(out, n)
	}
	return strings.Join(out, " ")
}

func TestMentionCompletion(t *testing.T) {
	h := newHarness(t)
	h.fake.members = append(h.fake.members, Member{ID: "12D3KooWbea000", Name: "bea", Role: storage.RoleMember})
	c := h.openChat()
	test.Type(c.composer, "hi @")
	if got := offered(c.completion); got != "[bea] bob" {
		t.Fatalf("offered %q after @", got)
	}
	test.Type(c.composer, "B")
	if got := offered(c.completion); got != "[bea] bob" {
		t.Fatalf("offered %q after @B", got)
	}
	key(c.composer, fyne.KeyDown)
	if got := offered(c.completion); got != "bea [bob]" {
		t.Fatalf("offered %q after Down", got)
	}
	key(c.composer, fyne.KeyTab)
	if c.composer.Text != "hi @bob " || c.completion.open() {
		t.Fatalf("after Tab: %q, open %v", c.composer.Text, c.completion.open())
	}
	// The cursor is after the name: typing goes on there.
	test.Type(c.composer, "and @be")
	if got := offered(c.completion); got != "[bea]" {
		t.Fatalf("offered %q after @be", got)
	}
	// Enter accepts instead of sending; Up moves (wrapping around).
	key(c.composer, fyne.KeyUp)
	key(c.composer, fyne.KeyReturn)
	if c.composer.Text != "hi @bob and @bea " || len(h.fake.sent) != 0 {
		t.Fatalf("after Enter: %q, sent %+v", c.composer.Text, h.fake.sent)
	}
	// Escape closes; a word without @ or an unknown name offers nothing;
	// the user is not offered.
	test.Type(c.composer, "@b")
	key(c.composer, fyne.KeyEscape)
	if c.completion.open() || c.composer.Text != "hi @bob and @bea @b" {
		t.Fatalf("after Escape: open %v text %q", c.completion.open(), c.composer.Text)
	}
	for _, s := range []string{"x", " mail@bo", " @zed", " @an"} {
		test.Type(c.composer, s)
		if c.completion.open() {
			t.Fatalf("offered %q after %q", offered(c.completion), c.composer.Text)
		}
	}
}

func TestMentionsHighlightedAndNotifyWhenMuted(t *testing.T) {
	var notes []string
	h := newHarness(t, func(c *Config) {
		c.Notify = func(title, body string) { notes = append(notes, title+": "+body) }
	})
	h.fake.commit("general", bob, "@ann can you look?")
	h.fake.commit("general", bob, "nothing for annie, @annie")
	c := h.openChat()
	i := lineWith(t, c.messages, lineText, "@ann can")
	j := lineWith(t, c.messages, lineText, "@annie")
	if !c.messages.lines[i].mention || c.messages.lines[j].mention {
		t.Fatalf("mention flags %v %v", c.messages.lines[i].mention, c.messages.lines[j].mention)
	}
	if r := row(t, c.messages, i); r.bg.FillColor == row(t, c.messages, j).bg.FillColor {
		t.Fatal("a mention looks like any other row")
	}

	// Mute #random: plain messages there count, muted, without notifying;
	// a mention still notifies.
	c.open("random")
	test.Tap(c.muteBtn)
	c.open("general")
	if got := h.ui.cfg.Preferences.StringList(mutedKey); !slices.Equal(got, []string{"random"}) {
		t.Fatalf("muted in preferences %q", got)
	}
	h.push(Event{Kind: EventMessage, Message: h.fake.commit("random", bob, "lunch?")})
	h.push(Event{Kind: EventMessage, Message: h.fake.commit("random", bob, "@Ann lunch?")})
	if c.channels.unread["random"] != 2 || len(notes) != 1 || notes[0] != "bob mentioned you in #random: @Ann lunch?" {
		t.Fatalf("unread %d, notes %q", c.channels.unread["random"], notes)
	}
	name, count := channelRow(t, c.channels, "random")
	if name.Importance != widget.LowImportance || count.Importance != widget.LowImportance || count.Text != "2" {
		t.Fatalf("muted row: %q %v, %q %v", name.Text, name.Importance, count.Text, count.Importance)
	}
	// Unmuted, it notifies again; the setting lasts for the next window.
	c.open("random")
	test.Tap(c.muteBtn)
	c.open("general")
	h.push(Event{Kind: EventMessage, Message: h.fake.commit("random", bob, "anyone?")})
	if len(notes) != 2 || notes[1] != "bob in #random: anyone?" {
		t.Fatalf("notes %q", notes)
	}
	h.ui.cfg.Preferences.SetStringList(mutedKey, []string{"design"})
	if c2 := newChat(h.ui); !c2.muted["design"] || c2.muted["random"] {
		t.Fatalf("a new window's muted channels %v", c2.muted)
	}
}

// channelRow renders the channel list's row of name.
func channelRow(t *testing.T, v *channelView, name string) (label, count *widget.Label) {
	t.Helper()
	i := slices.Index(v.names, name)
	o := v.list.CreateItem()
	v.update(name, o)
	label, count, ok := rowLabels(o)
	if i < 0 || !ok {
		t.Fatalf("no row for %q", name)
	}
	return label, count
}
