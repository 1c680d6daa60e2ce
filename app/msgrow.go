package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// rowActions is what the rows of a message list do when used; chat sets it.
type rowActions struct {
	menu   func(id string, at fyne.Position) // the actions on message id
	jump   func(id string)                   // show message id
	toggle func(id, emoji string)            // toggle the user's reaction
}

// msgRow is one row of the message list: a line of text, and on the first
// line of the user's own message its delivery state, with a "retry" link
// when it failed. The links and reaction chips are as tall as a label, so
// every row keeps one height and the list never needs SetItemHeight.
//
// A row of a committed message offers the message's actions on a right
// click (a long press on touch screens) and on a "⋯" link shown while the
// pointer is over it; a reply's quote row jumps to the parent when tapped.
type msgRow struct {
	widget.BaseWidget
	acts    *rowActions
	l       line
	bg      *canvas.Rectangle // mention or jump-target highlight
	text    *widget.Label
	state   *widget.Label
	retry   *widget.Hyperlink
	more    *widget.Hyperlink
	chips   *fyne.Container
	content *fyne.Container
	pend    *pending // the message the retry link retries
	x       rowExtras
}

var (
	_ fyne.SecondaryTappable = (*msgRow)(nil)
	_ fyne.Tappable          = (*msgRow)(nil)
	_ desktop.Hoverable      = (*msgRow)(nil)
	_ desktop.Cursorable     = (*msgRow)(nil)
)

func newMsgRow(onRetry func(p *pending), acts *rowActions) *msgRow {
	r := &msgRow{acts: acts, text: widget.NewLabel(""), state: widget.NewLabel(""), bg: canvas.NewRectangle(color.Transparent)}
	r.text.Truncation = fyne.TextTruncateEllipsis
	r.state.Importance = widget.LowImportance
	r.retry = widget.NewHyperlink("retry", nil)
	r.retry.OnTapped = func() { onRetry(r.pend) }
	r.retry.Hide()
	r.more = widget.NewHyperlink("⋯", nil)
	r.more.OnTapped = r.openMenuBelowMore
	r.more.Hide()
	r.chips = container.NewHBox()
	r.chips.Hide()
	r.x = newRowExtras()
	r.content = container.NewStack(r.bg, r.x.slice, container.NewBorder(nil, nil, nil,
		container.NewHBox(r.state, r.retry, r.x.save, r.more), container.NewStack(r.text, r.chips)))
	r.ExtendBaseWidget(r)
	return r
}

// set shows l.
func (r *msgRow) set(l line) {
	r.l, r.pend = l, l.pend
	r.text.TextStyle = fyne.TextStyle{Bold: l.kind == lineHeader, Italic: l.kind == lineQuote || l.kind == lineDeleted}
	r.text.Importance = widget.MediumImportance
	if l.kind == lineQuote || l.kind == lineDeleted {
		r.text.Importance = widget.LowImportance
	}
	r.setBackground()
	if l.kind == lineReactions {
		r.text.SetText("")
		r.setChips(l.reactions)
	} else {
		r.chips.Hide()
		r.text.SetText(l.text)
	}
	r.state.Importance = widget.LowImportance
	if l.state == stateFailed {
		r.state.Importance = widget.DangerImportance
	}
	r.state.SetText(l.state)
	if l.state == stateFailed && l.pend != nil {
		r.retry.Show()
	} else {
		r.retry.Hide()
	}
	r.more.Hide()
	r.x.set(l.lineExtras)
}

func (r *msgRow) setBackground() {
	th := r.Theme()
	v := variant()
	switch {
	case r.l.highlight:
		r.bg.FillColor = th.Color(theme.ColorNameSelection, v)
	case r.l.mention:
		r.bg.FillColor = withAlpha(th.Color(theme.ColorNameWarning, v), 0x38)
	default:
		r.bg.FillColor = color.Transparent
	}
	r.bg.Refresh()
}

// setChips shows one chip per reaction, reusing the chips it has.
func (r *msgRow) setChips(rs []reaction) {
	for len(r.chips.Objects) < len(rs) {
		c := newChip()
		r.chips.Add(c)
	}
	for i, o := range r.chips.Objects {
		c := o.(*chip)
		if i >= len(rs) {
			c.Hide()
			continue
		}
		rc := rs[i]
		c.set(rc.label(), rc.mine)
		c.onTap = func() {
			if r.acts.toggle != nil {
				r.acts.toggle(r.l.id, rc.emoji)
			}
		}
		c.Show()
	}
	r.chips.Show()
	r.chips.Refresh()
}

// Tapped jumps from a reply's quote to its parent.
func (r *msgRow) Tapped(*fyne.PointEvent) {
	if r.l.kind == lineQuote && r.acts.jump != nil {
		r.acts.jump(r.l.parent)
	}
}

// TappedSecondary opens the message's actions where the user clicked.
func (r *msgRow) TappedSecondary(ev *fyne.PointEvent) {
	if r.l.id != "" && r.acts.menu != nil {
		r.acts.menu(r.l.id, ev.AbsolutePosition)
	}
}

// Cursor shows a reply's quote as a link.
func (r *msgRow) Cursor() desktop.Cursor {
	if r.l.kind == lineQuote {
		return desktop.PointerCursor
	}
	return desktop.DefaultCursor
}

// MouseIn shows the "⋯" link on rows of committed messages.
func (r *msgRow) MouseIn(*desktop.MouseEvent) {
	if r.l.id != "" && r.l.kind != lineHeader {
		r.more.Show()
	}
}

// MouseMoved implements desktop.Hoverable.
func (r *msgRow) MouseMoved(*desktop.MouseEvent) {}

// MouseOut hides the "⋯" link.
func (r *msgRow) MouseOut() { r.more.Hide() }

func (r *msgRow) openMenuBelowMore() {
	if r.l.id == "" || r.acts.menu == nil {
		return
	}
	pos := fyne.NewPos(0, r.more.Size().Height)
	if a := fyne.CurrentApp(); a != nil {
		pos = pos.Add(a.Driver().AbsolutePositionForObject(r.more))
	}
	r.acts.menu(r.l.id, pos)
}

// CreateRenderer implements fyne.Widget.
func (r *msgRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.content) }

// chip is a reaction under a message: "👍 2" on a rounded background,
// stronger when the user reacted too; tapping it toggles the user's own.
type chip struct {
	widget.BaseWidget
	bg    *canvas.Rectangle
	label *widget.Label
	onTap func()
}

func newChip() *chip {
	c := &chip{bg: canvas.NewRectangle(color.Transparent), label: widget.NewLabel("")}
	c.bg.CornerRadius = 8
	c.bg.StrokeWidth = 1
	c.ExtendBaseWidget(c)
	return c
}

func (c *chip) set(text string, mine bool) {
	th := c.Theme()
	v := variant()
	c.bg.FillColor = th.Color(theme.ColorNameInputBackground, v)
	c.bg.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	if mine {
		c.bg.FillColor = withAlpha(th.Color(theme.ColorNamePrimary, v), 0x50)
		c.bg.StrokeColor = th.Color(theme.ColorNamePrimary, v)
	}
	c.bg.Refresh()
	c.label.SetText(text)
}

// Tapped implements fyne.Tappable.
func (c *chip) Tapped(*fyne.PointEvent) {
	if c.onTap != nil {
		c.onTap()
	}
}

// CreateRenderer implements fyne.Widget.
func (c *chip) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(c.bg, c.label))
}

// withAlpha is col with alpha a.
func withAlpha(col color.Color, a uint8) color.Color {
	r, g, b, _ := col.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

// variant is the app's theme variant (dark or light).
func variant() fyne.ThemeVariant {
	if a := fyne.CurrentApp(); a != nil {
		return a.Settings().ThemeVariant()
	}
	return theme.VariantDark
}
