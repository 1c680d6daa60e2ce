package app

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// clockWarn is the clock correction above which the status bar warns:
// timestamps of this member's messages may look wrong to others.
const clockWarn = time.Second

// statusBar shows the team link and the clock at the bottom of the window.
type statusBar struct {
	team    *widget.Label
	clock   *widget.Label
	content fyne.CanvasObject
}

func newStatusBar() *statusBar {
	b := &statusBar{team: widget.NewLabel("connecting…"), clock: widget.NewLabel("")}
	b.team.Truncation = fyne.TextTruncateEllipsis
	b.content = container.NewBorder(nil, nil, nil, b.clock, b.team)
	return b
}

// set shows st. An unchanged bar is left alone: the status arrives every
// second, and each redraw of the window costs CPU (idle CPU target).
func (b *statusBar) set(st Status) {
	text, ok := teamText(st)
	setLabel(b.team, text, ok, widget.MediumImportance)
	text, ok = clockText(st)
	setLabel(b.clock, text, ok, widget.LowImportance)
}

// setLabel shows text in l, with normal importance when ok and a warning
// otherwise, and refreshes l only when that changes it.
func setLabel(l *widget.Label, text string, ok bool, normal widget.Importance) {
	imp := normal
	if !ok {
		imp = widget.WarningImportance
	}
	if l.Text == text && l.Importance == imp {
		return
	}
	l.Text, l.Importance = text, imp
	l.Refresh()
}

// teamText says how the member is linked to its team; ok is false without
// quorum.
func teamText(st Status) (text string, ok bool) {
	if st.Storage != "" {
		return fmt.Sprintf("⚠ %s · %d queued", st.Storage, st.Queued), false
	}
	if st.Leader == "" {
		return fmt.Sprintf("no quorum: %d queued", st.Queued), false
	}
	text = fmt.Sprintf("connected to %d of %d", st.Connected, st.Total)
	if st.Total == 0 {
		text = "you are the team's only member"
	}
	if st.Queued > 0 {
		text += fmt.Sprintf(" · %d queued", st.Queued)
	}
	return text, true
}

// clockText describes the clock correction; ok is false when it exceeds
// clockWarn.
func clockText(st Status) (text string, ok bool) {
	src := st.ClockSource
	if src == "" {
		src = "system"
	}
	off := st.ClockOffset.Round(time.Millisecond) // rounded first: no "-0s"
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	text = fmt.Sprintf("clock: %s %s%s", src, sign, off)
	if off > clockWarn {
		return "⚠ " + text + " (system clock is off by more than 1 s)", false
	}
	return text, true
}
