package app

import (
	"slices"

	"fyne.io/fyne/v2/theme"
)

// mutedKey is the preference listing the muted channels.
const mutedKey = "muted_channels"

// loadMuted reads the muted channels from the preferences.
func (c *chat) loadMuted() {
	if p := c.u.cfg.Preferences; p != nil {
		for _, ch := range p.StringList(mutedKey) {
			c.muted[ch] = true
		}
	}
}

// toggleMute mutes or unmutes the open channel and remembers it: a muted
// channel does not notify (except a mention of the user) and its unread
// count is shown muted.
func (c *chat) toggleMute() {
	if c.current == "" {
		return
	}
	if c.muted[c.current] {
		delete(c.muted, c.current)
	} else {
		c.muted[c.current] = true
	}
	if p := c.u.cfg.Preferences; p != nil {
		var list []string
		for ch := range c.muted {
			list = append(list, ch)
		}
		slices.Sort(list)
		p.SetStringList(mutedKey, list)
	}
	c.showMute()
	c.channels.list.Refresh()
}

// showMute sets the header's mute button for the open channel.
func (c *chat) showMute() {
	if c.muted[c.current] {
		c.muteBtn.SetIcon(theme.VolumeMuteIcon())
	} else {
		c.muteBtn.SetIcon(theme.VolumeUpIcon())
	}
}

// notify offers a notification for m (not the user's own): never for a
// muted channel, except when m mentions the user.
func (c *chat) notify(channel, author, text string) {
	n := c.u.cfg.Notify
	if n == nil {
		return
	}
	me := c.names[c.self]
	switch {
	case mentions(text, me):
		n(c.name(author)+" mentioned you in #"+channel, firstLine(text))
	case !c.muted[channel]:
		n(c.name(author)+" in #"+channel, firstLine(text))
	}
}
