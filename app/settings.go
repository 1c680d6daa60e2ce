package app

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// Settings are the member's own settings, edited in the settings dialog.
type Settings struct {
	Name    string   // display name, shown to the team
	NTP     []string // NTP servers, host[:port]; empty means the defaults
	DataDir string   // where the member keeps its data; shown, not edited
}

// settingsDialog edits Settings. It stays open until they are saved (an
// error is shown in it) or the user cancels.
type settingsDialog struct {
	u        *UI
	onSaved  func(Settings)
	name     *widget.Entry
	ntp      *widget.Entry
	dir      *widget.Label
	login    *widget.Check // nil without Config.Autostart
	errLabel *widget.Label
	save     *widget.Button
	cancel   *widget.Button
	dlg      *dialog.CustomDialog
	dataDir  string
}

// showSettings loads the settings and opens the dialog over win.
func showSettings(u *UI, win fyne.Window, onOpen func(*settingsDialog), onSaved func(Settings)) {
	var s Settings
	u.background(func(ctx context.Context) (err error) {
		s, err = u.cfg.Backend.Settings(ctx)
		return err
	}, func(err error) {
		if err != nil {
			u.log.Warn("settings", "err", err)
			dialog.ShowInformation("Settings", "Could not read the settings: "+oneLine(err), win)
			return
		}
		d := newSettingsDialog(u, win, s, onSaved)
		d.dlg.Show()
		win.Canvas().Focus(d.name)
		if onOpen != nil {
			onOpen(d)
		}
	})
}

func newSettingsDialog(u *UI, win fyne.Window, s Settings, onSaved func(Settings)) *settingsDialog {
	d := &settingsDialog{u: u, onSaved: onSaved, dataDir: s.DataDir}
	d.name = widget.NewEntry()
	d.name.SetText(s.Name)
	d.name.OnSubmitted = func(string) { d.doSave() }
	d.ntp = widget.NewEntry()
	d.ntp.SetPlaceHolder("default: public NTP pools")
	d.ntp.SetText(strings.Join(s.NTP, ", "))
	d.ntp.OnSubmitted = func(string) { d.doSave() }
	d.dir = widget.NewLabel(s.DataDir)
	d.dir.Selectable = true
	d.dir.Truncation = fyne.TextTruncateEllipsis
	d.errLabel = widget.NewLabel("")
	d.errLabel.Importance = widget.DangerImportance
	d.errLabel.Wrapping = fyne.TextWrapWord
	d.errLabel.Hide()
	hint := widget.NewLabel("Servers are host or host:port, separated by commas; they apply from the next start.")
	hint.Importance = widget.LowImportance
	hint.Wrapping = fyne.TextWrapWord
	form := widget.NewForm(
		widget.NewFormItem("Display name", d.name),
		widget.NewFormItem("NTP servers", d.ntp),
		widget.NewFormItem("Data folder", d.dir),
	)
	if a := u.cfg.Autostart; a != nil {
		d.login = widget.NewCheck("Start Concord when I log in (in the tray)", nil)
		d.login.SetChecked(a.Enabled())
		form.Append("", d.login)
	}
	d.save = widget.NewButton("Save", d.doSave)
	d.save.Importance = widget.HighImportance
	d.cancel = widget.NewButton("Cancel", func() { d.dlg.Hide() })
	d.dlg = dialog.NewCustomWithoutButtons("Settings", container.NewVBox(form, hint, d.errLabel), win)
	d.dlg.SetButtons([]fyne.CanvasObject{d.cancel, d.save})
	d.dlg.Resize(fyne.NewSize(520, 0))
	return d
}

// doSave saves the settings; the dialog closes once the Backend took them.
func (d *settingsDialog) doSave() {
	s := Settings{Name: strings.TrimSpace(d.name.Text), DataDir: d.dataDir}
	for _, f := range strings.FieldsFunc(d.ntp.Text, func(r rune) bool { return r == ',' || r == ' ' }) {
		s.NTP = append(s.NTP, f)
	}
	if s.Name == "" {
		d.showError("Enter a display name.")
		return
	}
	d.errLabel.Hide()
	d.save.Disable()
	login := d.login != nil && d.login.Checked
	d.u.background(func(ctx context.Context) error {
		if d.login != nil && login != d.u.cfg.Autostart.Enabled() {
			if err := d.u.cfg.Autostart.Set(login); err != nil {
				return err
			}
		}
		return d.u.cfg.Backend.SaveSettings(ctx, s)
	}, func(err error) {
		d.save.Enable()
		if err != nil {
			d.u.log.Warn("save settings", "err", err)
			d.showError("Not saved: " + oneLine(err))
			return
		}
		d.dlg.Hide()
		if d.onSaved != nil {
			d.onSaved(s)
		}
	})
}

func (d *settingsDialog) showError(msg string) {
	d.errLabel.SetText(msg)
	d.errLabel.Show()
}
