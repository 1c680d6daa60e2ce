package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// Member is one member of the team as the member panel shows it.
type Member struct {
	ID     string
	Name   string
	Role   string // storage.RoleAdmin or storage.RoleMember
	Voter  bool   // has a vote in the team's Raft cluster
	Online bool   // the liveness probes reach it (this member always is)
	Leader bool   // leads the team now
	// Release is the Concord release it runs, as last heard ("" unknown;
	// "before 0.2.0" for a release that does not say).
	Release string
}

// memberPanel lists the team beside the messages: who is online, who leads,
// who votes; admins can remove members. Everyone can invite.
type memberPanel struct {
	c       *chat
	title   *widget.Label
	invite  *widget.Button
	box     *fyne.Container // one memberRow per member
	rows    []*memberRow
	shown   []Member // what rows show, to skip redrawing an unchanged list
	content fyne.CanvasObject
}

// memberRow is one member in the panel.
type memberRow struct {
	m      Member
	dot    *canvas.Circle
	name   *widget.Label
	badges *widget.Label
	remove *widget.Button // nil unless the user is an admin and m is someone else
	write  *widget.Button // starts a private conversation; nil for the user
	obj    fyne.CanvasObject
}

func newMemberPanel(c *chat) *memberPanel {
	p := &memberPanel{c: c, box: container.NewVBox()}
	p.title = widget.NewLabelWithStyle("Members", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.invite = widget.NewButtonWithIcon("Invite…", theme.ContentAddIcon(), c.makeInvite)
	head := container.NewBorder(nil, nil, nil, p.invite, p.title)
	p.content = container.NewBorder(head, nil, nil, nil, container.NewVScroll(p.box))
	return p
}

// set shows ms (sorted: online first, then by name) for user self.
func (p *memberPanel) set(ms []Member, self string) {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Member) int {
		if a.Online != b.Online {
			if a.Online {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	admin := false
	for _, m := range ms {
		admin = admin || (m.ID == self && m.Role == storage.RoleAdmin)
	}
	key := append(ms, Member{ID: self, Voter: admin}) // what the rows depend on
	if slices.Equal(key, p.shown) {
		return
	}
	p.shown = key
	online := 0
	p.rows = p.rows[:0]
	objs := make([]fyne.CanvasObject, 0, len(ms))
	for _, m := range ms {
		if m.Online {
			online++
		}
		r := p.newRow(m, self, admin && m.ID != self)
		p.rows = append(p.rows, r)
		objs = append(objs, r.obj)
	}
	p.title.SetText(fmt.Sprintf("Members · %d of %d online", online, len(ms)))
	p.box.Objects = objs
	p.box.Refresh()
}

func (p *memberPanel) newRow(m Member, self string, canRemove bool) *memberRow {
	r := &memberRow{m: m, dot: canvas.NewCircle(theme.Color(theme.ColorNameDisabled))}
	if m.Online {
		r.dot.FillColor = theme.Color(theme.ColorNameSuccess)
	}
	r.dot.Resize(fyne.NewSize(10, 10))
	name := m.Name
	if name == "" {
		name = shortID(m.ID)
	}
	if m.ID == self {
		name += " (you)"
	}
	r.name = widget.NewLabel(name)
	r.name.Truncation = fyne.TextTruncateEllipsis
	r.badges = widget.NewLabel(badges(m))
	r.badges.Importance = widget.LowImportance
	right := container.NewHBox(r.badges)
	if m.ID != self {
		r.write = p.messageButton(m)
		right.Add(r.write)
	}
	if canRemove {
		r.remove = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { p.c.confirmRemove(m) })
		r.remove.Importance = widget.LowImportance
		right.Add(r.remove)
	}
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(10, 10), r.dot))
	r.obj = container.NewBorder(nil, nil, dot, right, r.name)
	return r
}

// badges says what a member is besides its name: leader, voter, admin,
// offline.
func badges(m Member) string {
	var b []string
	if m.Leader {
		b = append(b, "leader")
	} else if m.Voter {
		b = append(b, "voter")
	}
	if m.Role == storage.RoleAdmin {
		b = append(b, "admin")
	}
	if !m.Online {
		b = append(b, "offline")
	}
	if m.Release != "" {
		b = append(b, m.Release)
	}
	return strings.Join(b, " · ")
}

// refreshMembers reloads the members (names for the messages, the panel);
// at most one call at a time.
func (c *chat) refreshMembers() {
	if c.members {
		return
	}
	c.members = true
	var ms []Member
	c.u.background(func(ctx context.Context) (err error) {
		ms, err = c.u.cfg.Backend.Members(ctx)
		return err
	}, func(err error) {
		c.members = false
		if err != nil {
			c.u.log.Warn("members", "err", err)
			return
		}
		renamed := false
		for _, m := range ms {
			renamed = renamed || c.names[m.ID] != m.Name
			c.names[m.ID] = m.Name
			c.roles[m.ID] = m.Role
		}
		c.panel.set(ms, c.self)
		if renamed {
			c.messages.rebuild()
		}
	})
}

// confirmRemove asks before removing m from the team.
func (c *chat) confirmRemove(m Member) {
	name := c.name(m.ID)
	d := dialog.NewConfirm("Remove "+name+"?",
		name+" will be cut off from the team and cannot rejoin without a new invite.",
		func(ok bool) {
			if ok {
				c.removeMember(m.ID, name)
			}
		}, c.u.cfg.Window)
	d.SetConfirmText("Remove")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
	c.confirm = d
}

func (c *chat) removeMember(id, name string) {
	c.u.background(func(ctx context.Context) error {
		return c.u.cfg.Backend.RemoveMember(ctx, id)
	}, func(err error) {
		if err != nil {
			c.u.log.Warn("remove member", "member", id, "err", err)
			dialog.ShowInformation("Not removed", "Could not remove "+name+": "+oneLine(err), c.u.cfg.Window)
			return
		}
		c.refreshMembers()
	})
}

// makeInvite shows a fresh invite code in a dialog with a copy button.
func (c *chat) makeInvite() {
	var code string
	c.panel.invite.Disable()
	c.u.background(func(ctx context.Context) (err error) {
		code, err = c.u.cfg.Backend.Invite(ctx)
		return err
	}, func(err error) {
		c.panel.invite.Enable()
		if err != nil {
			dialog.ShowInformation("Invite", "Could not make an invite: "+oneLine(err), c.u.cfg.Window)
			return
		}
		c.inviteCode = widget.NewLabel(code)
		c.inviteCode.Selectable = true
		c.inviteCode.Wrapping = fyne.TextWrapBreak
		c.copyCode = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
			if a := fyne.CurrentApp(); a != nil {
				a.Clipboard().SetContent(code)
			}
			c.copyCode.SetText("Copied")
		})
		hint := widget.NewLabel("Send this code to the person you invite. It works once, for a limited time.")
		hint.Wrapping = fyne.TextWrapWord
		d := dialog.NewCustom("Invite someone", "Close",
			container.NewVBox(hint, c.inviteCode, container.NewHBox(c.copyCode)), c.u.cfg.Window)
		d.Resize(fyne.NewSize(520, 0))
		d.Show()
	})
}
