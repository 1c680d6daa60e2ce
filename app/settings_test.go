package app

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// menuItem finds the main menu's item labelled label.
func menuItem(t *testing.T, w fyne.Window, label string) *fyne.MenuItem {
	t.Helper()
	if w.MainMenu() == nil {
		t.Fatal("no main menu")
	}
	for _, m := range w.MainMenu().Items {
		for _, it := range m.Items {
			if it.Label == label {
				return it
			}
		}
	}
	t.Fatalf("no menu item %q", label)
	return nil
}

func TestSettings(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	h.push(Event{Kind: EventMessage, Message: h.fake.commit("general", h.fake.self, "hi")})

	item := menuItem(t, h.win, "Settings…")
	if item.Shortcut == nil || item.Shortcut.ShortcutName() != settingsShortcut.ShortcutName() {
		t.Errorf("Settings… has shortcut %v, want Ctrl+,", item.Shortcut)
	}
	item.Action()
	h.settle()
	d := c.settings
	if d == nil || h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("settings dialog not shown")
	}
	if d.name.Text != "ann" || d.ntp.Text != "ntp.example:123" || d.dir.Text != "/home/ann/.concord" {
		t.Fatalf("dialog shows name %q ntp %q dir %q", d.name.Text, d.ntp.Text, d.dir.Text)
	}
	if h.win.Canvas().Focused() != d.name {
		t.Error("the name field should have focus")
	}

	// Empty name, then a value the backend refuses: the dialog stays open
	// and says why; nothing is saved.
	d.name.SetText("  ")
	test.Tap(d.save)
	h.settle()
	if !d.errLabel.Visible() || d.errLabel.Text != "Enter a display name." {
		t.Fatalf("error %q", d.errLabel.Text)
	}
	d.name.SetText("Annie")
	d.ntp.SetText("pool.example:x")
	test.Tap(d.save)
	h.settle()
	if !d.errLabel.Visible() || !strings.Contains(d.errLabel.Text, "bad port") || h.win.Canvas().Overlays().Top() == nil {
		t.Fatalf("error %q, dialog shown %v", d.errLabel.Text, h.win.Canvas().Overlays().Top() != nil)
	}
	if h.fake.settings.Name != "ann" {
		t.Fatalf("saved despite the error: %+v", h.fake.settings)
	}

	d.ntp.SetText("pool.example, 10.0.0.1:123")
	test.Tap(d.save)
	h.settle()
	if h.win.Canvas().Overlays().Top() != nil {
		t.Fatal("dialog still open after saving")
	}
	got := h.fake.settings
	if got.Name != "Annie" || !slices.Equal(got.NTP, []string{"pool.example", "10.0.0.1:123"}) {
		t.Fatalf("saved %+v", got)
	}
	if rows := joined(c.messages); !strings.HasPrefix(rows, "[Annie  ") {
		t.Fatalf("the new name is not shown:\n%s", rows)
	}
}

// Cancel closes the dialog without saving.
func TestSettingsCancel(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	test.Tap(c.gear)
	h.settle()
	c.settings.name.SetText("zed")
	test.Tap(c.settings.cancel)
	if h.win.Canvas().Overlays().Top() != nil || h.fake.settings.Name != "ann" {
		t.Fatalf("dialog shown %v, saved %+v", h.win.Canvas().Overlays().Top() != nil, h.fake.settings)
	}
}

type fakeAutostart struct{ on bool }

func (f *fakeAutostart) Enabled() bool     { return f.on }
func (f *fakeAutostart) Set(on bool) error { f.on = on; return nil }

// TestSettingsStartAtLogin: the settings show the start-at-login option
// where the platform has one, and saving applies it.
func TestSettingsStartAtLogin(t *testing.T) {
	auto := &fakeAutostart{}
	h := newHarness(t, func(c *Config) { c.Autostart = auto })
	c := h.openChat()
	var d *settingsDialog
	showSettings(h.ui, h.win, func(sd *settingsDialog) { d = sd }, nil)
	h.settle()
	if d == nil || d.login == nil || d.login.Checked {
		t.Fatalf("dialog %v: want an unchecked start-at-login option", d)
	}
	d.login.SetChecked(true)
	d.doSave()
	h.settle()
	if !auto.on {
		t.Fatal("saving did not turn start at login on")
	}
	_ = c
}
