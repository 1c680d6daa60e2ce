package app

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// Keyboard shortcuts of the menu items added for the keyboard (the others
// are declared beside their actions: settingsShortcut, searchShortcut,
// attachShortcut). Menu shortcuts work wherever the focus is.
var (
	// shortcutsShortcut opens the sheet of keyboard shortcuts (Ctrl+/).
	shortcutsShortcut = &desktop.CustomShortcut{KeyName: fyne.KeySlash, Modifier: fyne.KeyModifierShortcutDefault}
	// nextChannelShortcut and prevChannelShortcut walk the channel list,
	// then the private conversations (Alt+↓, Alt+↑).
	nextChannelShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyDown, Modifier: fyne.KeyModifierAlt}
	prevChannelShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyUp, Modifier: fyne.KeyModifierAlt}
)

// shortcutSheet is what Ctrl+/ shows, and the README's table.
var shortcutSheet = [][2]string{
	{"Ctrl+/", "this list of shortcuts"},
	{"Alt+↓ / Alt+↑", "next / previous channel or conversation"},
	{"Ctrl+F", "search (Enter searches, Esc closes)"},
	{"Ctrl+O", "attach a file"},
	{"Ctrl+,", "settings"},
	{"Enter / Shift+Enter", "send / new line"},
	{"↑ in an empty composer", "edit your last message (Enter saves, Esc cancels)"},
	{"@ and letters", "mention someone (Tab or Enter inserts, ↑↓ choose, Esc closes)"},
	{"Esc", "cancel a reply or an edit"},
	{"Tab / Shift+Tab", "move between fields and buttons"},
}

// showShortcuts opens the sheet of keyboard shortcuts.
func (c *chat) showShortcuts() {
	grid := container.NewGridWithColumns(2)
	for _, s := range shortcutSheet {
		grid.Add(widget.NewLabelWithStyle(s[0], fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		grid.Add(widget.NewLabel(s[1]))
	}
	dialog.ShowCustom("Keyboard shortcuts", "Close", grid, c.u.cfg.Window)
}

// stepChannel opens the channel (or conversation) by steps from the open
// one, in the order the lists show them, wrapping around.
func (c *chat) stepChannel(by int) {
	all := append(slices.Clone(c.channels.names), c.channels.dms...)
	if len(all) == 0 {
		return
	}
	i := slices.Index(all, c.current)
	if i < 0 {
		i = 0
	} else {
		i = (i + by + len(all)) % len(all)
	}
	c.channels.current = all[i]
	c.channels.selectCurrent()
	c.open(all[i])
}
