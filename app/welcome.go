package app

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// welcome is the first-run screen: create a team or join one.
type welcome struct {
	u      *UI
	onDone func()

	teamName   *widget.Entry
	createName *widget.Entry
	create     *widget.Button
	code       *widget.Entry
	joinName   *widget.Entry
	join       *widget.Button
	errLabel   *widget.Label
	teams      *widget.Label // teams seen on the LAN
	stopBrowse context.CancelFunc
	content    fyne.CanvasObject
}

func newWelcome(u *UI, onDone func()) *welcome {
	w := &welcome{u: u, onDone: onDone}
	w.teamName = widget.NewEntry()
	w.teamName.SetPlaceHolder("Team name")
	w.createName = widget.NewEntry()
	w.createName.SetPlaceHolder("Your name")
	w.create = widget.NewButton("Create team", w.doCreate)
	w.create.Importance = widget.HighImportance
	w.createName.OnSubmitted = func(string) { w.doCreate() }

	w.code = widget.NewEntry()
	w.code.SetPlaceHolder("Paste an invite code")
	w.joinName = widget.NewEntry()
	w.joinName.SetPlaceHolder("Your name")
	w.join = widget.NewButton("Join team", w.doJoin)
	w.joinName.OnSubmitted = func(string) { w.doJoin() }
	w.createName.SetText(u.cfg.Name)
	w.joinName.SetText(u.cfg.Name)

	w.errLabel = widget.NewLabel("")
	w.errLabel.Importance = widget.DangerImportance
	w.errLabel.Truncation = fyne.TextTruncateEllipsis
	w.errLabel.Hide()

	w.teams = widget.NewLabel("")
	w.teams.Wrapping = fyne.TextWrapWord
	w.teams.Hide()

	createCard := widget.NewCard("Create a team", "Start a new team on this computer.",
		container.NewVBox(w.teamName, w.createName, w.create))
	joinCard := widget.NewCard("Join a team", "Ask a member for an invite code.",
		container.NewVBox(w.code, w.joinName, w.join, w.teams))
	title := widget.NewLabelWithStyle("Welcome to Concord", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.content = container.NewPadded(container.NewVBox(title,
		container.NewGridWithColumns(2, createCard, joinCard), w.errLabel))
	return w
}

func (w *welcome) doCreate() {
	team := strings.TrimSpace(w.teamName.Text)
	name := strings.TrimSpace(w.createName.Text)
	if team == "" || name == "" {
		w.showError("Enter a team name and your name.")
		return
	}
	w.run(func(ctx context.Context) error { return w.u.cfg.Backend.CreateTeam(ctx, team, name) }, "Could not create the team")
}

func (w *welcome) doJoin() {
	code := strings.TrimSpace(w.code.Text)
	name := strings.TrimSpace(w.joinName.Text)
	if code == "" || name == "" {
		w.showError("Paste an invite code and enter your name.")
		return
	}
	w.run(func(ctx context.Context) error { return w.u.cfg.Backend.JoinTeam(ctx, code, name) }, "Could not join")
}

// run disables the buttons while call runs, then opens the chat or shows
// the error.
func (w *welcome) run(call func(ctx context.Context) error, failure string) {
	w.errLabel.Hide()
	w.create.Disable()
	w.join.Disable()
	w.u.background(call, func(err error) {
		w.create.Enable()
		w.join.Enable()
		if err == nil {
			w.stopBrowse()
			w.onDone()
			return
		}
		w.u.log.Warn("first run failed", "err", err)
		switch {
		case errors.Is(err, ErrBadInvite):
			w.showError("That invite code is not valid: ask for a new one.")
		case errors.Is(err, context.DeadlineExceeded):
			w.showError(failure + ": no answer in time. Is the inviter online?")
		default:
			w.showError(failure + ": " + oneLine(err))
		}
	})
}

func (w *welcome) showError(msg string) {
	w.errLabel.SetText(msg)
	w.errLabel.Show()
}
