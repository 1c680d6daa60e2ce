package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// settingsShortcut opens the settings (Ctrl+, or Cmd+, as usual on desktops).
var settingsShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyComma, Modifier: fyne.KeyModifierShortcutDefault}

// menu is the chat window's main menu. Its shortcuts work wherever the
// focus is (the driver tries the main menu before the focused widget);
// Fyne adds Quit to the first menu.
func (c *chat) menu() *fyne.MainMenu {
	settings := fyne.NewMenuItem("Settings…", c.openSettings)
	settings.Shortcut = settingsShortcut
	invite := fyne.NewMenuItem("Invite someone…", c.makeInvite)
	return fyne.NewMainMenu(fyne.NewMenu("Concord", settings, invite))
}

// openSettings opens the settings dialog; a saved name shows at once.
func (c *chat) openSettings() {
	showSettings(c.u, c.u.cfg.Window, func(d *settingsDialog) { c.settings = d }, func(Settings) {
		c.refreshMembers()
	})
}

// toggleMembers shows or hides the member panel.
func (c *chat) toggleMembers() {
	if c.panel.content.Visible() {
		c.panel.content.Hide()
	} else {
		c.panel.content.Show()
	}
	c.content.Refresh()
}
