package app

import (
	"context"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Private conversations: listed apart from the channels under the other
// participants' names; read and written like channels (the Backend seals
// and opens the texts). One is started from a member's row in the member
// panel or with "New message…", which picks one or more members.

// newConversation asks whom to write to, then opens that conversation.
func (c *chat) newConversation() {
	var ids, names []string
	for _, m := range c.panel.shown {
		if m.ID != c.self && m.Name != "" && !slices.Contains(ids, m.ID) {
			ids = append(ids, m.ID)
			names = append(names, c.name(m.ID))
		}
	}
	if len(ids) == 0 {
		dialog.ShowInformation("New message", "There is no one else in the team yet: invite someone first.", c.u.cfg.Window)
		return
	}
	pick := widget.NewCheckGroup(names, nil)
	errLabel := widget.NewLabel("")
	errLabel.Importance = widget.DangerImportance
	errLabel.Hide()
	form := dialog.NewForm("New message", "Start", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("To", pick), widget.NewFormItem("", errLabel)},
		func(ok bool) {
			if !ok {
				return
			}
			var with []string
			for _, n := range pick.Selected {
				with = append(with, ids[slices.Index(names, n)])
			}
			c.startConversation(with)
		}, c.u.cfg.Window)
	pick.OnChanged = func(sel []string) {
		if len(sel) == 0 {
			errLabel.SetText("Choose at least one member.")
			errLabel.Show()
		} else {
			errLabel.Hide()
		}
	}
	form.Resize(fyne.NewSize(360, 0))
	form.Show()
	c.picker = pick
	c.pickerForm = form
}

// startConversation opens the private conversation with the members with
// (IDs), creating it on first use.
func (c *chat) startConversation(with []string) {
	if len(with) == 0 {
		return
	}
	var name string
	c.u.background(func(ctx context.Context) (err error) {
		name, err = c.u.cfg.Backend.StartConversation(ctx, with)
		return err
	}, func(err error) {
		if err != nil {
			c.u.log.Warn("start conversation", "with", strings.Join(with, ","), "err", err)
			dialog.ShowInformation("New message", "Could not start the conversation: "+oneLine(err), c.u.cfg.Window)
			return
		}
		c.loadChannels(func() {
			c.openFirst()
			c.open(name)
		})
	})
}

// messageButton starts a private conversation with m from its row in the
// member panel.
func (p *memberPanel) messageButton(m Member) *widget.Button {
	b := widget.NewButtonWithIcon("", theme.MailComposeIcon(), func() { p.c.startConversation([]string{m.ID}) })
	b.Importance = widget.LowImportance
	return b
}
