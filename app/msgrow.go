package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// msgRow is one row of the message list: a line of text, and on the first
// line of the user's own message its delivery state, with a "retry" link
// when it failed. The link is as tall as a label, so every row keeps one
// height and the list never needs SetItemHeight.
type msgRow struct {
	widget.BaseWidget
	text    *widget.Label
	state   *widget.Label
	retry   *widget.Hyperlink
	content *fyne.Container
	pend    *pending // the message the retry link retries
	x       rowExtras
}

func newMsgRow(onRetry func(p *pending)) *msgRow {
	r := &msgRow{text: widget.NewLabel(""), state: widget.NewLabel("")}
	r.text.Truncation = fyne.TextTruncateEllipsis
	r.state.Importance = widget.LowImportance
	r.retry = widget.NewHyperlink("retry", nil)
	r.retry.OnTapped = func() { onRetry(r.pend) }
	r.retry.Hide()
	r.x = newRowExtras()
	r.content = container.NewStack(r.x.mark, r.x.slice,
		container.NewBorder(nil, nil, nil, container.NewHBox(r.state, r.retry, r.x.save), r.text))
	r.ExtendBaseWidget(r)
	return r
}

// set shows l.
func (r *msgRow) set(l line) {
	r.pend = l.pend
	r.text.TextStyle = fyne.TextStyle{Bold: l.header}
	r.text.SetText(l.text)
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
	r.x.set(l.lineExtras)
}

// CreateRenderer implements fyne.Widget.
func (r *msgRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.content) }
