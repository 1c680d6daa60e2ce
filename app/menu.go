package app

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
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
	find := fyne.NewMenuItem("Search…", c.search.focus)
	find.Shortcut = searchShortcut
	attach := fyne.NewMenuItem("Attach a file…", c.pickFile)
	attach.Shortcut = attachShortcut
	dm := fyne.NewMenuItem("New message…", c.newConversation)
	next := fyne.NewMenuItem("Next channel", func() { c.stepChannel(1) })
	next.Shortcut = nextChannelShortcut
	prev := fyne.NewMenuItem("Previous channel", func() { c.stepChannel(-1) })
	prev.Shortcut = prevChannelShortcut
	keys := fyne.NewMenuItem("Keyboard shortcuts", c.showShortcuts)
	keys.Shortcut = shortcutsShortcut
	about := fyne.NewMenuItem("About Concord", c.showAbout)
	return fyne.NewMainMenu(fyne.NewMenu("Concord", settings, invite, fyne.NewMenuItemSeparator(), keys, about),
		fyne.NewMenu("Message", find, attach, dm, fyne.NewMenuItemSeparator(), next, prev))
}

// showAbout says which release this is and the team's version.
func (c *chat) showAbout() {
	var st Status
	c.u.background(func(ctx context.Context) (err error) {
		st, err = c.u.cfg.Backend.Status(ctx)
		return err
	}, func(err error) {
		text := "Concord: a team chat with no server."
		if err == nil {
			text = fmt.Sprintf("Concord %s\nTeam version %d", st.Release, st.TeamVersion)
		}
		dialog.ShowInformation("About Concord", text, c.u.cfg.Window)
	})
}

// openSettings opens the settings dialog; a saved name shows at once.
func (c *chat) openSettings() {
	showSettings(c.u, c.u.cfg.Window, func(d *settingsDialog) { c.settings = d }, func(Settings) {
		c.refreshMembers()
	})
}

// toggleMembers shows or hides the member panel (in place of search
// results, if they are shown).
func (c *chat) toggleMembers() {
	if c.side.Visible() && c.panel.content.Visible() {
		c.panel.content.Hide()
		c.side.Hide()
	} else {
		c.search.content.Hide()
		c.panel.content.Show()
		c.side.Show()
	}
	c.content.Refresh()
}
