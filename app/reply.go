package app

import (
	"errors"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// composeBar sits above the composer while it replies to a message
// ("replying to bob: snippet ✕") or edits one; ✕ cancels.
type composeBar struct {
	what    *widget.Label
	snippet *widget.Label
	close   *widget.Button
	content *fyne.Container
}

func newComposeBar(onClose func()) *composeBar {
	b := &composeBar{what: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		snippet: widget.NewLabel("")}
	b.snippet.Truncation = fyne.TextTruncateEllipsis
	b.snippet.Importance = widget.LowImportance
	b.close = widget.NewButtonWithIcon("", theme.CancelIcon(), onClose)
	b.close.Importance = widget.LowImportance
	b.content = container.NewBorder(nil, nil, b.what, b.close, b.snippet)
	b.content.Hide()
	return b
}

func (b *composeBar) show(what, snippet string) {
	if snippet != "" {
		what += ":"
	}
	b.what.SetText(what)
	b.snippet.SetText(snippet)
	b.content.Show()
}

func (b *composeBar) hide() { b.content.Hide() }

// text is what the bar says, for tests ("" when hidden).
func (b *composeBar) text() string {
	if !b.content.Visible() {
		return ""
	}
	return strings.TrimSuffix(b.what.Text, ":") + ": " + b.snippet.Text
}

// errNotInWindow: a reply's parent is older than the window may hold.
var errNotInWindow = errors.New("it is older than the messages this window keeps")

// jumpTo scrolls to message id and highlights it, paging older messages
// in until it is in the window (or none are left).
func (c *chat) jumpTo(id string) {
	v := c.messages
	if row := slices.IndexFunc(v.lines, func(l line) bool { return l.id == id }); row >= 0 {
		c.jumping = ""
		v.target = id
		v.rebuild()
		v.list.ScrollTo(row)
		return
	}
	if !v.hasOlder {
		c.jumping = ""
		c.actionFailed("Could not show the message", errNotInWindow)
		return
	}
	c.jumping = id
	c.loadOlder()
}

// paged continues a jump once an older page arrived.
func (c *chat) paged() {
	if id := c.jumping; id != "" {
		c.jumpTo(id)
	}
}
