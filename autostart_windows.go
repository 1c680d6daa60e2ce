//go:build !headless

package main

import (
	"errors"

	"golang.org/x/sys/windows/registry"
)

// runKey is where Windows lists a user's programs started at login (they
// show in Task Manager's Startup tab).
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// Enabled reports whether the app starts at login.
func (a *autostart) Enabled() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, _, err = k.GetStringValue("Concord")
	return err == nil
}

// Set adds or removes the app from the programs started at login.
func (a *autostart) Set(on bool) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue("Concord"); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return err
		}
		return nil
	}
	return k.SetStringValue("Concord", `"`+a.exe+`" run --minimized`)
}
