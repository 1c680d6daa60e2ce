package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// composer is the multi-line message entry: Enter sends, Shift+Enter
// inserts a newline.
//
// Fyne v2.7's desktop driver sends Shift+Enter as KeyDown(shift) and then
// TypedKey(Return): it makes no shortcut of Shift alone. So the composer
// tracks the shift keys itself. It never sets Entry.OnSubmitted, so the
// embedded Entry inserts the newline for Shift+Enter.
type composer struct {
	widget.Entry
	shift  int               // shift keys held
	onSend func(text string) // called with the trimmed text; the composer clears itself
	// tooLong, if set, is called instead of onSend for a text over
	// storage.MaxTextBytes, which stays in the composer to be shortened.
	tooLong func(bytes int)
	// onKey, if set, sees each key first and reports whether it used it
	// (mention completion, Escape, Up to edit the last message).
	onKey func(k *fyne.KeyEvent) bool
}

var _ desktop.Keyable = (*composer)(nil)

func newComposer(onSend func(string)) *composer {
	c := &composer{onSend: onSend}
	c.MultiLine = true
	c.Wrapping = fyne.TextWrapWord
	c.SetMinRowsVisible(2)
	c.SetPlaceHolder("Message (Enter sends, Shift+Enter for a new line)")
	c.ExtendBaseWidget(c)
	return c
}

// KeyDown tracks the shift keys, then lets the Entry handle the key.
func (c *composer) KeyDown(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		c.shift++
	}
	c.Entry.KeyDown(k)
}

// KeyUp tracks the shift keys, then lets the Entry handle the key.
func (c *composer) KeyUp(k *fyne.KeyEvent) {
	if (k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight) && c.shift > 0 {
		c.shift--
	}
	c.Entry.KeyUp(k)
}

// FocusLost forgets held keys: their release goes elsewhere.
func (c *composer) FocusLost() {
	c.shift = 0
	c.Entry.FocusLost()
}

// TypedKey sends on Enter and passes every other key (and Shift+Enter) to
// the Entry.
func (c *composer) TypedKey(k *fyne.KeyEvent) {
	if c.shift == 0 && c.onKey != nil && c.onKey(k) {
		return
	}
	if (k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter) && c.shift == 0 && !c.Disabled() {
		c.send()
		return
	}
	c.Entry.TypedKey(k)
}

func (c *composer) send() {
	text := strings.TrimSpace(c.Text)
	if text == "" {
		return
	}
	if len(text) > storage.MaxTextBytes && c.tooLong != nil {
		c.tooLong(len(text))
		return
	}
	c.SetText("")
	if c.onSend != nil {
		c.onSend(text)
	}
}

// moveCursor puts the cursor at rune offset off of the text (the Entry
// offers no setter: its rows include word wraps).
func (c *composer) moveCursor(off int) {
	c.Entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageUp})
	for range off {
		c.Entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
	}
}
