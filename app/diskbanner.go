package app

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// diskFullText is what the banner says on a full disk (the member's own
// ErrDiskFull sentence, which a refused send also carries).
const diskFullText = "⚠ Your disk is full: free space to send; messages from others keep arriving once there is room."

// diskBanner is a line across the top of the window while the disk is low
// or full, hidden otherwise: a full disk refuses sends, and the user must
// see why before pressing send.
type diskBanner struct {
	label   *widget.Label
	content fyne.CanvasObject
}

func newDiskBanner() *diskBanner {
	b := &diskBanner{label: widget.NewLabel("")}
	b.label.Wrapping = fyne.TextWrapWord
	b.content = container.NewPadded(b.label)
	b.content.Hide()
	return b
}

// set shows the banner for st's disk state, touching the widgets only when
// that changes (the status arrives every second).
func (b *diskBanner) set(st Status) {
	text, imp := diskText(st)
	if text == "" {
		if b.content.Visible() {
			b.content.Hide()
		}
		return
	}
	if b.label.Text != text || b.label.Importance != imp {
		b.label.Text, b.label.Importance = text, imp
		b.label.Refresh()
	}
	if !b.content.Visible() {
		b.content.Show()
	}
}

// diskText is the banner's sentence for st, "" when the disk is ok and the
// member can apply the team's log (not blocked on an upgrade).
func diskText(st Status) (string, widget.Importance) {
	if st.Upgrade != "" {
		return "⚠ " + st.Upgrade + ". Install it: what you type waits in the outbox, and the history " +
			"shown stops at the first message this release cannot read.", widget.DangerImportance
	}
	switch st.Disk {
	case DiskFull:
		return diskFullText, widget.DangerImportance
	case DiskLow:
		return fmt.Sprintf("⚠ Your disk is almost full (%s free): free some space. Files from others are not fetched until then.",
			megabytes(st.DiskFree)), widget.WarningImportance
	}
	return "", widget.MediumImportance
}

// megabytes writes n bytes as whole MB (GB above 10 GB).
func megabytes(n uint64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%d GB", n>>30)
	}
	return fmt.Sprintf("%d MB", n>>20)
}
