package app

import (
	"fmt"
	"image/color"
	"slices"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/internal/human"
	"concord/storage"
)

// groupGap is how long after an author's message their next one still
// belongs to the same group (shown without a header).
const groupGap = 5 * time.Minute

// wrapAt is the soft wrap width, in runes, of a displayed text line until
// the list knows its width (then messageView.wrapAt follows it); a line
// wider than its row still truncates with an ellipsis.
const wrapAt = 100

// Delivery states of the user's own messages.
const (
	stateSending = "sending…"
	stateQueued  = "queued"
	stateSent    = "sent"
	stateFailed  = "failed"
)

// line is one row of the message list: a group header, one line of text,
// a reply's quote of its parent, or a message's reactions. Rows are single
// lines of equal height so the list never needs SetItemHeight (which makes
// its layout O(n)).
type line struct {
	kind  lineKind
	text  string
	state string   // delivery state, on the first line of an own message
	pend  *pending // the pending message on its first line, nil for committed ones
	id    string   // the committed message the row shows ("": header, pending)
	// parent is the quoted message (lineQuote); reactions are the chips
	// (lineReactions).
	parent    string
	reactions []reaction
	mention   bool // the message mentions the user
	highlight bool // the message was jumped to
	lineExtras
}

// lineKind says what a line shows.
type lineKind int

const (
	lineText lineKind = iota
	lineHeader
	lineQuote     // "↪ author: snippet" of the parent; tapping jumps to it
	lineDeleted   // "message deleted", muted
	lineReactions // reaction chips
)

// reaction is one chip under a message: an emoji, how many reacted with
// it, and whether the user did.
type reaction struct {
	emoji string
	count int
	mine  bool
}

// messageView shows a bounded window of one channel's messages.
type messageView struct {
	list     *widget.List
	content  fyne.CanvasObject
	msgs     []storage.Message // committed, ascending Seq
	pend     []*pending        // the user's uncommitted messages here, set by chat
	lines    []line
	hasOlder bool // the backend may have messages before msgs[0]
	loading  bool // a page of older messages is being fetched

	hasNewer bool              // a jump left the newest messages out: page them in at the bottom
	target   string            // the message a jump highlights
	later    []storage.Message // committed while hasNewer, in case paging read before they were

	self     string
	names    func(id string) string
	loc      *time.Location
	now      func() time.Time
	onTop    func() // item 0 became visible: page older messages
	onBottom func() // the last item became visible while hasNewer: page newer ones
	onSave   func(m storage.Message)
	thumbs   *thumbCache
	onRetry  func(p *pending)
	acts     rowActions             // what rows do when tapped
	mention  func(text string) bool // whether text mentions the user
	maxMsgs  int
	maxTotal int
	rowH     float32
	wrapAt   int // runes per line at the list's width
}

func newMessageView(loc *time.Location, now func() time.Time, maxMsgs int) *messageView {
	v := &messageView{loc: loc, now: now, maxMsgs: maxMsgs, maxTotal: 10 * maxMsgs, wrapAt: wrapAt,
		names: func(id string) string { return shortID(id) }}
	v.list = widget.NewList(
		func() int { return len(v.lines) },
		func() fyne.CanvasObject { return newMsgRow(v.retry, &v.acts) },
		v.update,
	)
	v.list.HideSeparators = true
	// Chat lines sit closer than form rows: less padding in the list.
	v.content = container.New(&widthLayout{onWidth: v.setWidth}, container.NewThemeOverride(v.list, compactTheme{}))
	return v
}

// setWidth re-wraps the messages for a list this wide: as many runes as
// fit beside the state column.
func (v *messageView) setWidth(w float32) {
	th := v.list.Theme()
	size := th.Size(theme.SizeNameText)
	// Typical text, plus a tenth for lines with more wide letters; the rare
	// line that still does not fit ends with an ellipsis.
	sample := "The quick brown fox jumps over the lazy dog, 0123456789 times."
	perRune := fyne.MeasureText(sample, size, fyne.TextStyle{}).Width / float32(len(sample)) * 1.1
	state := fyne.MeasureText(stateSending+" retry", size, fyne.TextStyle{}).Width
	avail := w - state - 6*th.Size(theme.SizeNamePadding) - th.Size(theme.SizeNameScrollBar)
	n := max(int(avail/perRune), 20)
	if n == v.wrapAt {
		return
	}
	follow := v.following()
	v.wrapAt = n
	v.rebuild()
	if follow {
		v.scrollToBottom()
	}
}

// widthLayout gives its one object all the space and reports width changes.
type widthLayout struct {
	onWidth func(w float32)
	w       float32
}

func (l *widthLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
	if size.Width != l.w && size.Width > 0 {
		l.w = size.Width
		l.onWidth(size.Width)
	}
}

func (l *widthLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	if len(objs) == 0 {
		return fyne.Size{}
	}
	return objs[0].MinSize()
}

// compactTheme is the current theme with less padding, for the message list.
type compactTheme struct{}

func (compactTheme) cur() fyne.Theme {
	if a := fyne.CurrentApp(); a != nil {
		return a.Settings().Theme()
	}
	return theme.DefaultTheme()
}

func (t compactTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return t.cur().Color(n, v)
}
func (t compactTheme) Font(s fyne.TextStyle) fyne.Resource     { return t.cur().Font(s) }
func (t compactTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.cur().Icon(n) }
func (t compactTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameInnerPadding:
		return 2
	case theme.SizeNamePadding:
		return 2
	}
	return t.cur().Size(n)
}

func (v *messageView) update(id widget.ListItemID, o fyne.CanvasObject) {
	if id == 0 && v.onTop != nil && v.hasOlder && !v.loading {
		v.onTop()
	}
	if id == len(v.lines)-1 && v.onBottom != nil && v.hasNewer && !v.loading {
		v.onBottom()
	}
	if id < 0 || id >= len(v.lines) {
		return
	}
	if r, ok := o.(*msgRow); ok {
		r.set(v.lines[id])
	}
}

// retry is a failed row's retry link being tapped.
func (v *messageView) retry(p *pending) {
	if v.onRetry != nil && p != nil && p.state == stateFailed {
		v.onRetry(p)
	}
}

// reset clears the view for another channel.
func (v *messageView) reset() {
	v.msgs, v.pend, v.hasOlder, v.loading = nil, nil, true, false
	v.hasNewer, v.target, v.later = false, "", nil
	v.rebuild()
}

// addOlder merges a page of older messages; fewer than asked means none
// are left.
func (v *messageView) addOlder(page []storage.Message, asked int) {
	if len(page) < asked || len(v.msgs)+len(page) >= v.maxTotal {
		v.hasOlder = false
	}
	before := len(v.lines)
	for _, m := range page {
		v.insert(m)
	}
	v.rebuild()
	if added := len(v.lines) - before; added > 0 && before > 0 {
		// Keep the rows the user looks at in place.
		v.list.ScrollToOffset(v.list.GetScrollOffset() + float32(added)*v.rowHeight())
	}
}

// add shows a newly committed message; it reports whether the message
// belongs in the view (and was not there already).
func (v *messageView) add(m storage.Message) bool {
	if v.hasNewer { // after a jump, paging brings it in
		v.keepLater(m)
		return false
	}
	if !v.insert(m) {
		return false
	}
	if over := len(v.msgs) - v.maxMsgs; over > 0 && v.following() {
		v.msgs = append([]storage.Message(nil), v.msgs[over:]...)
		v.hasOlder = true
	}
	v.rebuild()
	return true
}

// insert places m by Seq, dropping duplicates.
func (v *messageView) insert(m storage.Message) bool {
	i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].Seq >= m.Seq })
	if i < len(v.msgs) && v.msgs[i].Seq == m.Seq {
		return false
	}
	v.msgs = append(v.msgs, storage.Message{})
	copy(v.msgs[i+1:], v.msgs[i:])
	v.msgs[i] = m
	return true
}

// committed reports whether message id is shown as committed.
func (v *messageView) committed(id string) bool {
	for i := len(v.msgs) - 1; i >= 0; i-- {
		if v.msgs[i].ID == id {
			return true
		}
	}
	return false
}

// following reports whether the user looks at the newest messages.
func (v *messageView) following() bool {
	row := v.rowHeight()
	content := float32(len(v.lines)) * row
	return v.list.GetScrollOffset()+v.list.Size().Height >= content-2*row
}

// overflows reports whether the rows are taller than the view.
func (v *messageView) overflows() bool {
	return float32(len(v.lines))*v.rowHeight() > v.list.Size().Height
}

// rowHeight is the height of one row and its separator: all rows are equal.
func (v *messageView) rowHeight() float32 {
	if v.rowH == 0 {
		// Measured as the list measures it: in the list's (compact) theme.
		item := v.list.CreateItem()
		container.NewThemeOverride(item, compactTheme{})
		v.rowH = item.MinSize().Height + compactTheme{}.Size(theme.SizeNamePadding)
	}
	return v.rowH
}

// oldestSeq is the History cursor for the next older page.
func (v *messageView) oldestSeq() uint64 {
	if len(v.msgs) == 0 {
		return 0
	}
	return v.msgs[0].Seq
}

// rebuild lays the messages out as rows: a header when the author changes
// or after a pause, then a reply's quote, the text lines, the reactions.
func (v *messageView) rebuild() {
	v.lines = v.lines[:0]
	var prevAuthor string
	var prevAt time.Time
	header := func(author string, at time.Time) {
		if author != prevAuthor || at.Sub(prevAt) > groupGap || prevAt.IsZero() {
			v.lines = append(v.lines, line{kind: lineHeader, text: v.names(author) + "  " + v.stamp(at)})
		}
		prevAuthor, prevAt = author, at
	}
	body := func(l line, text string) {
		for i, t := range wrap(text, v.wrapAt) {
			l.text = t
			if i > 0 {
				l.state, l.pend = "", nil
			}
			v.lines = append(v.lines, l)
		}
	}
	byID := make(map[string]*storage.Message, len(v.msgs))
	for i := range v.msgs {
		byID[v.msgs[i].ID] = &v.msgs[i]
	}
	for _, m := range v.msgs {
		header(m.Author, m.CommittedAt)
		l := line{id: m.ID, highlight: m.ID == v.target, mention: !m.Deleted && v.mention != nil && v.mention(m.Text)}
		if m.ReplyTo != "" {
			q := l
			q.kind, q.parent, q.text = lineQuote, m.ReplyTo, v.quote(byID[m.ReplyTo])
			v.lines = append(v.lines, q)
		}
		if m.Author == v.self && v.self != "" {
			l.state = stateSent
		}
		if m.Deleted {
			l.kind, l.text = lineDeleted, deletedText
			v.lines = append(v.lines, l)
			continue
		}
		start := len(v.lines)
		body(l, shownText(m))
		v.decorate(m, start)
		if len(m.Reactions) > 0 {
			r := line{kind: lineReactions, id: m.ID, reactions: reactions(m, v.self), highlight: l.highlight}
			for _, c := range r.reactions {
				r.text += c.label() + "  "
			}
			r.text = strings.TrimSpace(r.text)
			v.lines = append(v.lines, r)
		}
	}
	for _, p := range v.pend {
		header(v.self, p.sentAt)
		if p.replyTo != "" {
			v.lines = append(v.lines, line{kind: lineQuote, parent: p.replyTo, text: v.quote(byID[p.replyTo])})
		}
		body(line{state: p.state, pend: p}, p.text)
	}
	v.list.Refresh()
}

// deletedText stands in for a deleted message.
const deletedText = "message deleted"

// quote is a reply's line about its parent (nil: not in the window).
func (v *messageView) quote(p *storage.Message) string {
	if p == nil {
		return "↪ an earlier message"
	}
	return "↪ " + v.names(p.Author) + ": " + human.Clip(firstLine(bodyText(*p)), 40)
}

// reactions lists m's reactions as chips, by emoji.
func reactions(m storage.Message, self string) []reaction {
	out := make([]reaction, 0, len(m.Reactions))
	for emoji, who := range m.Reactions {
		if len(who) > 0 {
			out = append(out, reaction{emoji: emoji, count: len(who), mine: slices.Contains(who, self)})
		}
	}
	slices.SortFunc(out, func(a, b reaction) int { return strings.Compare(a.emoji, b.emoji) })
	return out
}

// label is a chip's text.
func (r reaction) label() string { return fmt.Sprintf("%s %d", r.emoji, r.count) }

// shownText is a committed message's text as shown: an edited message says
// so, a file shows its name and size.
func shownText(m storage.Message) string {
	text := bodyText(m)
	if !m.EditedAt.IsZero() && !m.Deleted {
		text += " (edited)"
	}
	return text
}

// bodyText is what a message says: its text, or its file, or that it was
// deleted.
func bodyText(m storage.Message) string {
	switch {
	case m.Deleted:
		return deletedText
	case m.File != nil:
		return fmt.Sprintf("📎 %s (%s)", m.File.Name, human.Bytes(m.File.Size))
	}
	return m.Text
}

// stamp formats t in local time: the time of day today, else with the date.
func (v *messageView) stamp(t time.Time) string {
	t = t.In(v.loc)
	n := v.now().In(v.loc)
	if t.Year() == n.Year() && t.YearDay() == n.YearDay() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

// wrap splits text into display lines: at newlines, and long lines at
// spaces near n runes.
func wrap(text string, n int) []string {
	var out []string
	for _, para := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		r := []rune(para)
		for len(r) > n {
			cut := n
			for i := n; i > n/2; i-- {
				if r[i] == ' ' {
					cut = i
					break
				}
			}
			out = append(out, string(r[:cut]))
			r = []rune(strings.TrimLeft(string(r[cut:]), " "))
		}
		out = append(out, string(r))
	}
	return out
}

// shortID is a readable stand-in for a peer ID with no known name.
func shortID(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-6:]
	}
	return id
}

// scrollToBottom shows the newest row. (List.ScrollToBottom needs the
// list's renderer; ScrollTo does not.)
func (v *messageView) scrollToBottom() {
	if n := len(v.lines); n > 0 {
		v.list.ScrollTo(n - 1)
	}
}

// firstLine is the start of text for a one-line preview.
func firstLine(text string) string {
	l := wrap(text, wrapAt)[0]
	if len(l) < len(strings.TrimSpace(text)) {
		l += " …"
	}
	return l
}
