package app

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// Search: a field above the messages (Ctrl+F focuses it, Enter searches,
// Escape closes); the results replace the member panel, newest first, and
// choosing one opens its channel around it (jump.go).

// searchShortcut focuses the search field.
var searchShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}

// searchLimit is the most results shown.
const searchLimit = 50

// searchView is the search field and its results panel.
type searchView struct {
	c       *chat
	entry   *searchEntry
	field   fyne.CanvasObject // entry at a fixed width, for the header
	info    *widget.Label     // how many results, or why none
	list    *resultList
	results []storage.Message
	words   []string // of the query shown, for snippets
	gen     int      // the latest query; older answers are dropped
	content fyne.CanvasObject
}

// resultList is the list of results; Escape closes the search from it
// too (choosing a result focuses the list).
type resultList struct {
	widget.List
	onEscape func()
}

// TypedKey closes the search on Escape.
func (l *resultList) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		l.onEscape()
		return
	}
	l.List.TypedKey(k)
}

// searchEntry is a one-line entry that closes the search on Escape.
type searchEntry struct {
	widget.Entry
	onEscape func()
}

// TypedKey closes the search on Escape.
func (e *searchEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(k)
}

func newSearchView(c *chat) *searchView {
	s := &searchView{c: c, info: widget.NewLabel("")}
	s.entry = &searchEntry{onEscape: s.close}
	s.entry.ExtendBaseWidget(s.entry)
	s.entry.SetPlaceHolder("Search (Ctrl+F)")
	s.entry.OnSubmitted = func(string) { s.run() }
	s.field = container.NewGridWrap(fyne.NewSize(220, s.entry.MinSize().Height), s.entry)
	s.info.Wrapping = fyne.TextWrapWord
	s.list = &resultList{onEscape: s.close}
	s.list.Length = func() int { return len(s.results) }
	s.list.CreateItem, s.list.UpdateItem = newResultRow, s.update
	s.list.ExtendBaseWidget(s.list)
	s.list.OnSelected = func(id widget.ListItemID) {
		s.list.UnselectAll()
		if id >= 0 && id < len(s.results) {
			s.c.jump(s.results[id])
		}
	}
	title := widget.NewLabelWithStyle("Search results", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.content = container.NewBorder(container.NewVBox(title, s.info), nil, nil, nil, s.list)
	s.content.Hide()
	return s
}

func newResultRow() fyne.CanvasObject {
	where := widget.NewLabel("")
	where.TextStyle = fyne.TextStyle{Bold: true}
	where.Truncation = fyne.TextTruncateEllipsis
	snippet := widget.NewLabel("")
	snippet.Truncation = fyne.TextTruncateEllipsis
	return container.NewVBox(where, snippet)
}

func (s *searchView) update(id widget.ListItemID, o fyne.CanvasObject) {
	box, ok := o.(*fyne.Container)
	if !ok || id < 0 || id >= len(s.results) || len(box.Objects) != 2 {
		return
	}
	m := s.results[id]
	box.Objects[0].(*widget.Label).SetText(fmt.Sprintf("#%s · %s · %s", m.Channel, s.c.name(m.Author), s.c.messages.stamp(m.CommittedAt)))
	box.Objects[1].(*widget.Label).SetText(snippet(bodyText(m), s.words, 60))
}

// focus puts the cursor in the search field (Ctrl+F).
func (s *searchView) focus() {
	if cv := s.c.u.cfg.Window.Canvas(); cv != nil {
		cv.Focus(s.entry)
	}
}

// run searches for the field's text and shows the results.
func (s *searchView) run() {
	query := strings.TrimSpace(s.entry.Text)
	if query == "" {
		s.close()
		return
	}
	s.gen++
	gen := s.gen
	s.show()
	s.info.SetText("Searching…")
	var found []storage.Message
	s.c.u.background(func(ctx context.Context) (err error) {
		found, err = s.c.u.cfg.Backend.Search(ctx, query, searchLimit)
		return err
	}, func(err error) {
		if gen != s.gen {
			return // a newer query, or closed
		}
		if err != nil {
			s.c.u.log.Warn("search", "err", err)
			s.results = nil
			s.info.SetText("Search failed: " + oneLine(err))
			s.list.Refresh()
			return
		}
		s.results = found
		s.words = strings.Fields(strings.ToLower(strings.ReplaceAll(query, "*", "")))
		switch n := len(found); {
		case n == 0:
			s.info.SetText("No messages match “" + query + "”.")
		case n == 1:
			s.info.SetText("1 message. Choose it to see it in its channel.")
		case n >= searchLimit:
			s.info.SetText(fmt.Sprintf("The newest %d messages. Choose one to see it in its channel.", n))
		default:
			s.info.SetText(fmt.Sprintf("%d messages. Choose one to see it in its channel.", n))
		}
		s.list.Refresh()
		s.list.ScrollToTop()
	})
}

// show puts the results in place of the member panel.
func (s *searchView) show() {
	s.c.panel.content.Hide()
	s.content.Show()
	s.c.side.Show()
	s.c.content.Refresh()
}

// close clears the search and brings the member panel back.
func (s *searchView) close() {
	s.gen++
	s.entry.SetText("")
	s.results = nil
	s.list.Refresh()
	if s.content.Visible() {
		s.content.Hide()
		s.c.panel.content.Show()
		s.c.content.Refresh()
	}
	if cv := s.c.u.cfg.Window.Canvas(); cv != nil {
		cv.Focus(s.c.composer)
	}
}

// snippet is a one-line excerpt of text of about n runes around the first
// of words it contains.
func snippet(text string, words []string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	r := []rune(text)
	if len(r) <= n {
		return text
	}
	lower := []rune(strings.ToLower(text))
	at := 0
	for _, w := range words {
		if i := strings.Index(string(lower), w); i >= 0 {
			at = len([]rune(string(lower)[:i]))
			break
		}
	}
	start := max(min(at-n/3, len(r)-n), 0)
	out := strings.TrimSpace(string(r[start:min(start+n, len(r))]))
	if start > 0 {
		out = "…" + out
	}
	if start+n < len(r) {
		out += "…"
	}
	return out
}
