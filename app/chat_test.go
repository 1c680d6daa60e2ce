package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"concord/storage"
)

func TestUnreadCounts(t *testing.T) {
	var notes []string
	h := newHarness(t, func(c *Config) {
		c.Notify = func(title, body string) { notes = append(notes, title+": "+body) }
	})
	c := h.openChat()
	if c.current != "general" {
		t.Fatalf("current %q", c.current)
	}
	for i := 1; i <= 2; i++ {
		m := h.fake.commit("random", "12D3KooWbob000", fmt.Sprint("hi ", i))
		h.push(Event{Kind: EventMessage, Message: m})
		if got := c.channels.unread["random"]; got != i {
			t.Fatalf("unread random = %d, want %d", got, i)
		}
	}
	if len(c.messages.lines) != 0 {
		t.Fatalf("message of another channel shown: %v", texts(c.messages))
	}
	if want := []string{"bob in #random: hi 1", "bob in #random: hi 2"}; strings.Join(notes, "|") != strings.Join(want, "|") {
		t.Errorf("notifications %q, want %q", notes, want)
	}
	// The user's own messages (e.g. sent with the CLI) are not unread.
	h.push(Event{Kind: EventMessage, Message: h.fake.commit("random", h.fake.self, "mine")})
	if got := c.channels.unread["random"]; got != 2 || len(notes) != 2 {
		t.Fatalf("own message counted: unread %d, notes %q", got, notes)
	}
	// Opening the channel by selecting it resets the count and shows history.
	c.channels.list.Select(1) // names are sorted: general, random
	h.settle()
	if c.current != "random" || c.channels.unread["random"] != 0 {
		t.Fatalf("current %q unread %d", c.current, c.channels.unread["random"])
	}
	if got := joined(c.messages); got != "[bob  09:00]\nhi 1\nhi 2\n[ann  09:00]\nmine | sent" {
		t.Fatalf("rows:\n%s", got)
	}
	// A message in the open channel is shown, not counted, and offered as
	// a notification (the window decides: only when it is in the background).
	m := h.fake.commit("random", "12D3KooWbob000", "hi 3")
	h.push(Event{Kind: EventMessage, Message: m})
	if c.channels.unread["random"] != 0 || !strings.HasSuffix(joined(c.messages), "hi 3") {
		t.Fatalf("unread %d rows:\n%s", c.channels.unread["random"], joined(c.messages))
	}
	if len(notes) != 3 || notes[2] != "bob in #random: hi 3" {
		t.Fatalf("notifications %q, want a third for hi 3", notes)
	}
	// The same message twice is shown once, and notified once.
	h.push(Event{Kind: EventMessage, Message: m})
	if n := strings.Count(joined(c.messages), "hi 3"); n != 1 || len(notes) != 3 {
		t.Fatalf("hi 3 shown %d times, %d notifications", n, len(notes))
	}
}

func TestCreateChannel(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	test.Tap(c.channels.add)
	if !c.channels.form.Visible() {
		t.Fatal("form not shown")
	}
	test.Type(c.channels.newName, "#design")
	test.Tap(c.channels.createBtn)
	h.settle()
	if !c.channels.has("design") || c.current != "design" {
		t.Fatalf("channels %v current %q", c.channels.names, c.current)
	}
	if c.channels.form.Visible() || c.channels.newName.Text != "" {
		t.Error("form should close and clear")
	}
	if h.win.Canvas().Focused() != c.composer {
		t.Error("composer should have focus in the new channel")
	}
	// Another member's channel arrives as an event.
	if err := h.fake.CreateChannel(t.Context(), "ops"); err != nil {
		t.Fatal(err)
	}
	h.push(Event{Kind: EventChannels})
	if !c.channels.has("ops") {
		t.Fatalf("channels %v", c.channels.names)
	}
}

func TestCreateChannelEmptyName(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	test.Tap(c.channels.add)
	test.Tap(c.channels.createBtn)
	if !c.channels.errLabel.Visible() || c.channels.errLabel.Text != "Enter a channel name." {
		t.Fatalf("error %q", c.channels.errLabel.Text)
	}
}

func TestGrouping(t *testing.T) {
	h := newHarness(t)
	base := h.fake.now
	add := func(author, text string, at time.Duration) {
		m := h.fake.commit("general", author, text)
		m.CommittedAt = base.Add(at)
		h.fake.msgs["general"][len(h.fake.msgs["general"])-1] = m
	}
	add("12D3KooWbob000", "a", 0)
	add("12D3KooWbob000", "b", 4*time.Minute)
	add("12D3KooWbob000", "c", 10*time.Minute) // a pause: new header
	add("12D3KooWself00", "d", 11*time.Minute)
	add("12D3KooWbob000", "e", 12*time.Minute)
	c := h.openChat()
	want := "[bob  09:00]\na\nb\n[bob  09:10]\nc\n[ann  09:11]\nd | sent\n[bob  09:12]\ne"
	if got := joined(c.messages); got != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
}

func TestHistoryPaging(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PageSize = 20 })
	for i := 1; i <= 50; i++ {
		h.fake.commit("general", "12D3KooWbob000", fmt.Sprint("m", i))
	}
	c := h.openChat()
	if len(c.messages.msgs) != 20 || c.messages.msgs[0].Text != "m31" {
		t.Fatalf("first page: %d msgs from %q", len(c.messages.msgs), c.messages.msgs[0].Text)
	}
	// Row 0 coming into view (scrolled to the top) loads the page before.
	top := func() {
		c.messages.update(0, c.messages.list.CreateItem())
		h.settle()
	}
	top()
	if len(c.messages.msgs) != 40 || c.messages.msgs[0].Text != "m11" {
		t.Fatalf("second page: %d msgs from %q", len(c.messages.msgs), c.messages.msgs[0].Text)
	}
	top()
	if len(c.messages.msgs) != 50 || c.messages.msgs[0].Text != "m1" || c.messages.hasOlder {
		t.Fatalf("last page: %d msgs from %q, hasOlder %v", len(c.messages.msgs), c.messages.msgs[0].Text, c.messages.hasOlder)
	}
	for i, m := range c.messages.msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("msg %d has seq %d", i, m.Seq)
		}
	}
}

func TestWrap(t *testing.T) {
	long := strings.Repeat("word ", 30)
	tests := []struct {
		name, in string
		want     int
	}{
		{"one line", "hello", 1},
		{"newlines", "a\nb\nc", 3},
		{"trailing newline", "a\n", 1},
		{"long line", long, 2},
		{"long word", strings.Repeat("x", 250), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := wrap(tc.in, wrapAt)
			if len(got) != tc.want {
				t.Fatalf("wrap gave %d lines %q, want %d", len(got), got, tc.want)
			}
			for _, l := range got {
				if len([]rune(l)) > wrapAt {
					t.Errorf("line longer than %d: %q", wrapAt, l)
				}
			}
		})
	}
}

func TestHistoryFillsShortView(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PageSize = 3 })
	for i := 1; i <= 8; i++ {
		h.fake.commit("general", "12D3KooWbob000", fmt.Sprint("m", i))
	}
	c := h.openChat()
	if len(c.messages.msgs) != 8 || c.messages.hasOlder {
		t.Fatalf("%d msgs, hasOlder %v", len(c.messages.msgs), c.messages.hasOlder)
	}
}

// While the user follows the newest messages (and they overflow the
// view), only MaxMessages are kept; older ones page back in on scrolling up.
func TestLiveWindowIsBounded(t *testing.T) {
	// MaxMessages must be more than a screenful (the 600 px test window
	// shows about 18 rows), or row 0 in view pages the dropped ones back.
	h := newHarness(t, func(c *Config) { c.MaxMessages = 30 })
	c := h.openChat()
	for i := 1; i <= 60; i++ {
		h.push(Event{Kind: EventMessage, Message: h.fake.commit("general", "12D3KooWbob000", fmt.Sprint("m", i))})
	}
	if len(c.messages.msgs) != 30 || c.messages.msgs[0].Text != "m31" || !c.messages.hasOlder {
		t.Fatalf("%d msgs from %q, hasOlder %v", len(c.messages.msgs), c.messages.msgs[0].Text, c.messages.hasOlder)
	}
}

// A member that just joined has no channels when its window opens; the
// chat opens #general as soon as the channel list arrives.
func TestOpensGeneralWhenChannelsArriveLate(t *testing.T) {
	h := newHarness(t)
	h.fake.mu.Lock()
	h.fake.channels = nil
	h.fake.mu.Unlock()
	h.ui.ShowChat()
	h.settle()
	c := h.ui.chat
	if c.current != "" {
		t.Fatalf("opened %q with no channels", c.current)
	}
	if err := h.fake.CreateChannel(t.Context(), "general"); err != nil {
		t.Fatal(err)
	}
	h.push(Event{Kind: EventChannels})
	if c.current != "general" {
		t.Fatalf("current %q after the channels arrived, want general", c.current)
	}
	if h.win.Canvas().Focused() != c.composer {
		t.Error("composer should have focus")
	}
}

// Lines wrap at the width of the list, and re-wrap when it changes.
func TestWrapFollowsWidth(t *testing.T) {
	h := newHarness(t)
	h.fake.commit("general", "12D3KooWbob000", strings.Repeat("word ", 60))
	c := h.openChat()
	rows := func() int { return len(c.messages.lines) }
	h.win.Resize(fyne.NewSize(1400, 600))
	wide, wideAt := rows(), c.messages.wrapAt
	h.win.Resize(fyne.NewSize(600, 600))
	narrow, narrowAt := rows(), c.messages.wrapAt
	if narrowAt >= wideAt || narrow <= wide {
		t.Fatalf("wide: %d rows at %d runes; narrow: %d rows at %d runes", wide, wideAt, narrow, narrowAt)
	}
	for _, l := range c.messages.lines {
		if n := len([]rune(l.text)); n > narrowAt {
			t.Errorf("line of %d runes, wrap at %d: %q", n, narrowAt, l.text)
		}
	}
}

// Deleted and edited messages say so.
func TestDeletedAndEdited(t *testing.T) {
	h := newHarness(t)
	h.fake.commit("general", "12D3KooWbob000", "oops")
	b := h.fake.commit("general", "12D3KooWbob000", "typo")
	h.fake.msgs["general"][0].Deleted, h.fake.msgs["general"][0].Text = true, ""
	h.fake.msgs["general"][1].EditedAt, h.fake.msgs["general"][1].Text = b.CommittedAt.Add(time.Minute), "fixed"
	c := h.openChat()
	if got := joined(c.messages); got != "[bob  09:00]\nmessage deleted\nfixed (edited)" {
		t.Fatalf("rows:\n%s", got)
	}
}

// A reply quotes its parent; reactions and attachments are shown.
func TestRepliesReactionsFiles(t *testing.T) {
	h := newHarness(t)
	q := h.fake.commit("general", "12D3KooWbob000", "lunch?")
	r := h.fake.commit("general", "12D3KooWbob000", "or dinner")
	f := h.fake.commit("general", "12D3KooWbob000", "plan.pdf")
	h.fake.msgs["general"][0].Reactions = map[string][]string{"👍": {"a", "b"}}
	h.fake.msgs["general"][1].ReplyTo = q.ID
	h.fake.msgs["general"][2].File = &storage.FileRef{Name: "plan.pdf", Size: 2048, Type: "application/pdf"}
	_, _ = r, f
	c := h.openChat()
	want := "[bob  09:00]\nlunch?\n👍 2\n↪ bob: lunch?\nor dinner\n📎 plan.pdf (2.0 KB)"
	if got := joined(c.messages); got != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
}

// A private conversation is listed under the other participants' names.
func TestPrivateConversationTitle(t *testing.T) {
	h := newHarness(t)
	h.fake.channels = append(h.fake.channels, storage.Channel{Name: "dm-0123", Members: []string{h.fake.self, "12D3KooWbob000"}})
	c := h.openChat()
	if got := c.channels.titles["dm-0123"]; got != "🔒 bob" {
		t.Fatalf("title %q, want %q", got, "🔒 bob")
	}
}
