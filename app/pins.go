package app

import (
	"context"
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"concord/internal/human"
	"concord/storage"
)

// The open channel's pinned messages: a button in the channel header says
// how many (hidden when none) and lists them; choosing one scrolls to it.
// The message menu pins and unpins.

// refreshPins reloads the open channel's pins.
func (c *chat) refreshPins() {
	channel := c.current
	if channel == "" || c.pinsBtn == nil {
		return
	}
	var pins []storage.Message
	c.u.background(func(ctx context.Context) (err error) {
		pins, err = c.u.cfg.Backend.Pins(ctx, channel)
		return err
	}, func(err error) {
		if err != nil {
			c.u.log.Debug("pins", "channel", channel, "err", err)
			return
		}
		same := slices.EqualFunc(pins, c.pins, func(a, b storage.Message) bool { return a.ID == b.ID && a.Text == b.Text })
		if channel != c.current || same {
			return // the header is redrawn only when the pins change (this runs every second)
		}
		c.pins = pins
		c.showPins()
	})
}

// showPins sets the header button from c.pins.
func (c *chat) showPins() {
	defer c.tools.Refresh() // the button takes room or gives it back
	if len(c.pins) == 0 {
		c.pinsBtn.Hide()
		return
	}
	c.pinsBtn.SetText(fmt.Sprintf("📌 %d", len(c.pins)))
	c.pinsBtn.Show()
}

// pinned says whether message id is pinned in the open channel.
func (c *chat) pinned(id string) bool {
	return slices.ContainsFunc(c.pins, func(m storage.Message) bool { return m.ID == id })
}

// listPins opens the list of the open channel's pinned messages.
func (c *chat) listPins() {
	cv := c.u.cfg.Window.Canvas()
	if cv == nil || len(c.pins) == 0 {
		return
	}
	items := make([]*fyne.MenuItem, 0, len(c.pins))
	for _, m := range c.pins {
		label := c.name(m.Author) + ": " + human.Clip(firstLine(bodyText(m)), 60)
		items = append(items, fyne.NewMenuItem(label, func() { c.jumpTo(m.ID) }))
	}
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(c.pinsBtn).AddXY(0, c.pinsBtn.Size().Height)
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("Pinned", items...), cv, pos)
}

// setPin pins or unpins message id.
func (c *chat) setPin(id string, unpin bool) {
	c.u.background(func(ctx context.Context) error {
		return c.u.cfg.Backend.Pin(ctx, id, unpin)
	}, func(err error) {
		if err != nil {
			c.actionFailed("Could not change the pin", err)
			return
		}
		c.refreshPins()
	})
}
