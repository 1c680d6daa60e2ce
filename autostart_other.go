//go:build !headless && !windows

package main

// Enabled reports whether the app starts at login.
func (a *autostart) Enabled() bool { return a.xdgEnabled() }

// Set adds or removes the app from the programs started at login.
func (a *autostart) Set(on bool) error { return a.xdgSet(on) }
