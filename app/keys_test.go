package app

import (
	"testing"

	"fyne.io/fyne/v2"
)

// menuShortcut runs the main-menu item that carries shortcut s, as the
// driver does for a key press wherever the focus is.
func menuShortcut(t *testing.T, h *harness, s fyne.Shortcut) {
	t.Helper()
	for _, m := range h.win.MainMenu().Items {
		for _, it := range m.Items {
			if it.Shortcut != nil && it.Shortcut.ShortcutName() == s.ShortcutName() {
				it.Action()
				h.settle()
				return
			}
		}
	}
	t.Fatalf("no menu item has %s", s.ShortcutName())
}

// TestKeyboardChannelSwitch: Alt+↓ and Alt+↑ walk the channels, wrapping.
func TestKeyboardChannelSwitch(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	if len(c.channels.names) < 2 {
		t.Skipf("the fake has %d channels", len(c.channels.names))
	}
	first := c.current
	menuShortcut(t, h, nextChannelShortcut)
	if c.current == first {
		t.Fatalf("Alt+Down stayed on %s", first)
	}
	menuShortcut(t, h, prevChannelShortcut)
	if c.current != first {
		t.Fatalf("Alt+Up went to %s, want %s", c.current, first)
	}
	menuShortcut(t, h, prevChannelShortcut) // wraps to the last
	all := append(append([]string{}, c.channels.names...), c.channels.dms...)
	if c.current != all[len(all)-1] {
		t.Fatalf("Alt+Up from the first went to %s, want the last, %s", c.current, all[len(all)-1])
	}
}

// TestKeyboardShortcutSheet: Ctrl+/ shows the sheet.
func TestKeyboardShortcutSheet(t *testing.T) {
	h := newHarness(t)
	h.openChat()
	menuShortcut(t, h, shortcutsShortcut)
	if h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("Ctrl+/ showed nothing")
	}
}
