package app

import (
	"context"
	"errors"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/internal/human"
	"concord/storage"
)

// commonEmoji are the reactions the picker offers. Fyne draws emoji with
// its bundled EmojiOneColor font, and not all of them well: these were
// checked in screenshots under Xvfb. 👍 (drawn clipped), 👌, 👀 and 🎯
// (drawn too small to read) are left out; ✅ stands in for 👍.
var commonEmoji = []string{"✅", "❤️", "😂", "😮", "😢", "🙌", "🔥", "🎉"}

// initActions wires the message actions into the chat's views.
func (c *chat) initActions() {
	c.messages.acts = rowActions{menu: c.messageMenu, jump: c.jumpTo, toggle: c.react}
	c.messages.mention = func(text string) bool { return mentions(text, c.names[c.self]) }
	c.composer.onKey = c.composerKey
	c.composer.OnChanged = func(string) { c.updateCompletion() }
	c.composer.OnCursorChanged = c.updateCompletion
	c.bar = newComposeBar(c.cancelCompose)
	c.completion = newCompletion()
	c.muteBtn = widget.NewButtonWithIcon("", theme.VolumeUpIcon(), c.toggleMute)
	c.pinsBtn = widget.NewButton("", c.listPins)
	c.pinsBtn.Importance = widget.LowImportance
	c.pinsBtn.Hide()
}

// messageMenu opens the actions on message id at pos: reply, react, and
// for the user's own messages edit and delete (delete also for admins).
func (c *chat) messageMenu(id string, pos fyne.Position) {
	m, ok := c.messages.message(id)
	if !ok {
		return
	}
	items := []*fyne.MenuItem{
		fyne.NewMenuItem("Reply", func() { c.startReply(id) }),
		fyne.NewMenuItem("Add reaction…", func() { c.showPicker(id, pos) }),
	}
	if !m.Deleted {
		if c.pinned(id) {
			items = append(items, fyne.NewMenuItem("Unpin", func() { c.setPin(id, true) }))
		} else {
			items = append(items, fyne.NewMenuItem("Pin to channel", func() { c.setPin(id, false) }))
		}
	}
	if !m.Deleted && m.Author == c.self && m.File == nil {
		items = append(items, fyne.NewMenuItem("Edit", func() { c.startEdit(id) }))
	}
	if !m.Deleted && (m.Author == c.self || c.roles[c.self] == storage.RoleAdmin) {
		items = append(items, fyne.NewMenuItem("Delete…", func() { c.confirmDelete(id) }))
	}
	c.menuShown = fyne.NewMenu("", items...)
	if cv := c.u.cfg.Window.Canvas(); cv != nil {
		widget.ShowPopUpMenuAtPosition(c.menuShown, cv, pos)
	}
}

// showPicker offers the common reactions for message id at pos.
func (c *chat) showPicker(id string, pos fyne.Position) {
	row := container.NewHBox()
	var pop *widget.PopUp
	for _, e := range commonEmoji {
		b := widget.NewButton(e, func() {
			pop.Hide()
			c.react(id, e)
		})
		b.Importance = widget.LowImportance
		row.Add(b)
	}
	pop = widget.NewPopUp(row, c.u.cfg.Window.Canvas())
	pop.ShowAtPosition(pos)
	c.reactPicker = pop
}

// react toggles the user's reaction; the change arrives as an event.
func (c *chat) react(id, emoji string) {
	c.u.background(func(ctx context.Context) error {
		return c.u.cfg.Backend.React(ctx, id, emoji)
	}, func(err error) { c.actionFailed("Could not react", err) })
}

// confirmDelete asks before deleting message id for everyone.
func (c *chat) confirmDelete(id string) {
	d := dialog.NewConfirm("Delete message?", "It is deleted for everyone in the team.", func(ok bool) {
		if !ok {
			return
		}
		c.u.background(func(ctx context.Context) error {
			return c.u.cfg.Backend.Delete(ctx, id)
		}, func(err error) { c.actionFailed("Could not delete the message", err) })
	}, c.u.cfg.Window)
	d.SetConfirmText("Delete")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
	c.confirm = d
}

// startEdit puts message id's text in the composer; Enter saves it,
// Escape or the bar's ✕ cancels.
func (c *chat) startEdit(id string) {
	m, ok := c.messages.message(id)
	if !ok || m.Deleted || m.Author != c.self {
		return
	}
	c.replyTo, c.editing = "", id
	c.bar.show("editing your message", "")
	c.composer.SetText(m.Text)
	c.focusComposer()
}

// editLast edits the user's latest message shown (Up in an empty composer).
func (c *chat) editLast() bool {
	for i := len(c.messages.msgs) - 1; i >= 0; i-- {
		if m := c.messages.msgs[i]; m.Author == c.self && !m.Deleted && m.File == nil {
			c.startEdit(m.ID)
			return true
		}
	}
	return false
}

// saveEdit commits the new text of the message being edited.
func (c *chat) saveEdit(text string) {
	id := c.editing
	c.cancelCompose()
	if m, ok := c.messages.message(id); ok && m.Text == text {
		return // nothing changed: no "(edited)" mark for it
	}
	c.u.background(func(ctx context.Context) error {
		return c.u.cfg.Backend.Edit(ctx, id, text)
	}, func(err error) { c.actionFailed("Could not edit the message", err) })
}

// startReply makes the next message sent an answer to message id.
func (c *chat) startReply(id string) {
	m, ok := c.messages.message(id)
	if !ok {
		return
	}
	if c.editing != "" {
		c.composer.SetText("")
	}
	c.editing, c.replyTo = "", id
	c.bar.show("replying to "+c.name(m.Author), human.Clip(firstLine(bodyText(m)), 50))
	c.focusComposer()
}

// cancelCompose ends a reply or an edit; an edit's text leaves the composer.
func (c *chat) cancelCompose() {
	if c.editing != "" {
		c.composer.SetText("")
	}
	c.editing, c.replyTo = "", ""
	c.bar.hide()
}

// actionFailed tells the user why the team refused an action; the detail
// goes to the log.
func (c *chat) actionFailed(what string, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, ErrQueued) {
		// Not a refusal: the outbox keeps it and the team applies it,
		// once, when it has quorum again.
		c.lastError = what + ": queued, the team applies it when it has quorum again"
		dialog.ShowInformation("Queued", c.lastError, c.u.cfg.Window)
		return
	}
	c.u.log.Warn("message action", "action", what, "err", err)
	c.lastError = what + ": " + oneLine(err)
	dialog.ShowInformation("Not done", c.lastError, c.u.cfg.Window)
}

func (c *chat) focusComposer() {
	if cv := c.u.cfg.Window.Canvas(); cv != nil {
		cv.Focus(c.composer)
	}
}

// changed shows the new state of a message that was edited, deleted or
// reacted to, if it is in the window.
func (c *chat) changed(m storage.Message) {
	follow := c.messages.following()
	if m.Channel != c.current || !c.messages.replace(m) {
		return
	}
	if follow {
		c.messages.scrollToBottom()
	}
	if m.Deleted && (c.editing == m.ID || c.replyTo == m.ID) {
		c.cancelCompose()
	}
}

// message returns the committed message id if it is in the window.
func (v *messageView) message(id string) (storage.Message, bool) {
	i := slices.IndexFunc(v.msgs, func(m storage.Message) bool { return m.ID == id })
	if i < 0 {
		return storage.Message{}, false
	}
	return v.msgs[i], true
}

// replace puts m's new state in place of the message with its Seq; it
// reports whether it was shown.
func (v *messageView) replace(m storage.Message) bool {
	i := slices.IndexFunc(v.msgs, func(o storage.Message) bool { return o.Seq == m.Seq })
	if i < 0 || v.msgs[i].ID != m.ID {
		return false
	}
	v.msgs[i] = m
	v.rebuild()
	return true
}
