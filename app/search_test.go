package app

import (
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// search types query into the search field and presses Enter.
func search(h *harness, c *chat, query string) {
	h.t.Helper()
	c.search.entry.SetText("")
	test.Type(c.search.entry, query)
	c.search.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.settle()
}

// resultRows renders the search results as their rows read.
func resultRows(s *searchView) []string {
	var out []string
	for i := range s.results {
		row := newResultRow()
		s.update(i, row)
		box := row.(*fyne.Container)
		out = append(out, box.Objects[0].(*widget.Label).Text+" | "+box.Objects[1].(*widget.Label).Text)
	}
	return out
}

// markedText is the text of the highlighted rows.
func markedText(v *messageView) string {
	var out []string
	for _, l := range v.lines {
		if l.highlight {
			out = append(out, l.text)
		}
	}
	return strings.Join(out, "\n")
}

// Ctrl+F focuses the field, Enter lists the results beside the messages,
// choosing one opens its channel around it, highlighted; the view pages
// newer messages in until it follows the newest again; Escape closes.
func TestSearchJumpsToMessageInContext(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PageSize, c.MaxMessages = 20, 40 })
	for i := 1; i <= 200; i++ {
		text := fmt.Sprint("message ", i)
		if i == 50 {
			text = "the deploy of friday is broken, see the logs"
		}
		h.fake.commit("general", "12D3KooWbob000", text)
	}
	h.fake.commit("random", h.fake.self, "deploy done")
	h.fake.commit("dm-x", "12D3KooWbob000", "secret deploy")
	h.fake.channels = append(h.fake.channels, storage.Channel{Name: "dm-x", Members: []string{h.fake.self, "12D3KooWbob000"}})
	c := h.openChat()
	if c.messages.msgs[0].Seq != 181 {
		t.Fatalf("opened at seq %d, want the newest page from 181", c.messages.msgs[0].Seq)
	}

	item := menuItem(t, h.win, "Search…")
	if item.Shortcut == nil || item.Shortcut.ShortcutName() != searchShortcut.ShortcutName() {
		t.Fatalf("Search… has shortcut %v, want Ctrl+F", item.Shortcut)
	}
	item.Action()
	if h.win.Canvas().Focused() != c.search.entry {
		t.Fatal("Ctrl+F did not focus the search field")
	}
	search(h, c, "deploy")
	if !c.search.content.Visible() || c.panel.content.Visible() {
		t.Fatal("results not shown in place of the member panel")
	}
	want := []string{"#random · ann · 09:03 | deploy done", "#general · bob · 09:00 | the deploy of friday is broken, see the logs"}
	if got := resultRows(c.search); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(c.search.info.Text, "2 messages") {
		t.Errorf("info %q", c.search.info.Text)
	}

	c.search.list.Select(1)
	h.settle()
	v := c.messages
	if c.current != "general" || c.title.Text != "# general" {
		t.Fatalf("current %q title %q", c.current, c.title.Text)
	}
	if first, last := v.msgs[0].Seq, v.msgs[len(v.msgs)-1].Seq; first > 50 || last < 50 || last >= 181 {
		t.Fatalf("window %d..%d does not hold seq 50 in context", first, last)
	}
	if got := markedText(v); got != "the deploy of friday is broken, see the logs" {
		t.Fatalf("highlighted %q", got)
	}
	if v.list.GetScrollOffset() == 0 {
		t.Error("the view did not scroll to the message")
	}
	// A message committed meanwhile waits for the paging to reach it.
	live := h.fake.commit("general", "12D3KooWcarl00", "live one")
	h.push(Event{Kind: EventMessage, Message: live})
	if strings.Contains(joined(v), "live one") {
		t.Fatal("a new message was appended to an old window")
	}
	// One whose event comes before paging reaches it, but after the last
	// page was read (the fake's History never returns it), still shows.
	raced := storage.Message{Envelope: storage.Envelope{ID: "raced", Author: "12D3KooWcarl00", Channel: "general", Text: "raced"},
		Seq: live.Seq + 1, CommittedAt: live.CommittedAt}
	h.push(Event{Kind: EventMessage, Message: raced})
	// Reaching the bottom pages newer messages in, up to the newest.
	for i := 0; v.hasNewer; i++ {
		if i > 20 {
			t.Fatal("paging newer never reached the newest")
		}
		v.update(len(v.lines)-1, v.list.CreateItem())
		h.settle()
	}
	if last := v.msgs[len(v.msgs)-2]; last.ID != live.ID {
		t.Fatalf("newest but one shown %q, want the live message", last.Text)
	}
	if !strings.HasSuffix(joined(v), "live one\nraced") {
		t.Fatalf("a message committed after the last page was read is missing:\n%s", joined(v))
	}
	if len(v.msgs) > v.maxTotal {
		t.Fatalf("%d messages kept, bound %d", len(v.msgs), v.maxTotal)
	}
	// Escape closes the search, from the field or from the results.
	c.search.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if c.search.content.Visible() || !c.panel.content.Visible() || c.search.entry.Text != "" {
		t.Fatal("Escape did not close the search")
	}
	search(h, c, "deploy")
	c.search.list.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if c.search.content.Visible() || !c.panel.content.Visible() {
		t.Fatal("Escape in the results did not close the search")
	}
}

// Sending after a jump goes back to the newest messages, where it lands.
func TestSendAfterJumpShowsNewest(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PageSize = 10 })
	for i := 1; i <= 50; i++ {
		h.fake.commit("general", "12D3KooWbob000", fmt.Sprint("message ", i))
	}
	c := h.openChat()
	search(h, c, "message 5")
	c.jump(h.fake.msgs["general"][4])
	h.settle()
	if !c.messages.hasNewer {
		t.Fatal("jump to seq 5 of 50 should leave newer messages out")
	}
	test.Type(c.composer, "hello")
	c.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.settle()
	if c.messages.hasNewer || !strings.HasSuffix(joined(c.messages), "message 50\n[ann  09:00]\nhello | sending…") &&
		!strings.HasSuffix(joined(c.messages), "hello | sent") {
		t.Fatalf("rows after sending:\n%s", joined(c.messages))
	}
}

func TestSearchNoResultsAndErrors(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	search(h, c, "nothing")
	if len(c.search.results) != 0 || c.search.info.Text != "No messages match “nothing”." {
		t.Fatalf("info %q results %d", c.search.info.Text, len(c.search.results))
	}
	search(h, c, "   ")
	if c.search.content.Visible() {
		t.Fatal("an empty query should close the results")
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("a ", 40) + "needle " + strings.Repeat("b ", 40)
	for _, tc := range []struct{ name, text, want string }{
		{"short", "hello\nworld", "hello world"},
		{"around the match", long, "…a a a a a a a a a a needle b b b b b b b b b b b b b b b b b…"},
		{"no match: the start", strings.Repeat("c ", 50), strings.TrimSpace(strings.Repeat("c ", 30)) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := snippet(tc.text, []string{"needle"}, 60); got != tc.want {
				t.Fatalf("snippet = %q, want %q", got, tc.want)
			}
		})
	}
}
