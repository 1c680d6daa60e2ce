//go:build !headless

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"concord/app"
)

// autostart is the app's entry in the desktop's list of programs started
// at login: on Linux (and other XDG desktops) a desktop entry in
// $XDG_CONFIG_HOME/autostart, on Windows a value under HKCU's Run key
// (autostart_windows.go). It starts the app with --minimized, in the tray.
type autostart struct {
	exe string // the executable to start
}

// newAutostart returns the platform's autostart, or nil where Concord has
// none (macOS: a launch agent is left to a later release).
func newAutostart() app.Autostart {
	exe, err := os.Executable()
	if err != nil || runtime.GOOS == "darwin" {
		return nil
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return &autostart{exe: exe}
}

var _ app.Autostart = (*autostart)(nil)

// xdgEntry is the autostart desktop entry's path.
func xdgEntry() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "autostart", "org.concord.chat.desktop"), nil
}

func (a *autostart) xdgEnabled() bool {
	p, err := xdgEntry()
	if err != nil {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && !strings.Contains(string(b), "\nHidden=true")
}

func (a *autostart) xdgSet(on bool) error {
	p, err := xdgEntry()
	if err != nil {
		return err
	}
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	entry := fmt.Sprintf("[Desktop Entry]\nType=Application\nName=Concord\nComment=Peer-to-peer team chat, started in the tray\nExec=%q run --minimized\nIcon=concord\nTerminal=false\nX-GNOME-Autostart-enabled=true\n", a.exe)
	return os.WriteFile(p, []byte(entry), 0o644)
}
