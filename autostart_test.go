//go:build !headless && !windows

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAutostartXDG: the start-at-login option writes a desktop entry in
// $XDG_CONFIG_HOME/autostart that starts the app in the tray, and removes
// it again.
func TestAutostartXDG(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	a := &autostart{exe: "/usr/bin/concord"}
	if a.Enabled() {
		t.Fatal("enabled before Set")
	}
	for i := 0; i < 2; i++ { // twice: idempotent
		if err := a.Set(true); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(cfg, "autostart", "org.concord.chat.desktop"))
	if err != nil || !a.Enabled() || !strings.Contains(string(b), "\nExec=\"/usr/bin/concord\" run --minimized\n") {
		t.Fatalf("after Set(true): enabled %v, entry %q, %v", a.Enabled(), b, err)
	}
	for i := 0; i < 2; i++ {
		if err := a.Set(false); err != nil {
			t.Fatal(err)
		}
	}
	if a.Enabled() {
		t.Fatal("still enabled after Set(false)")
	}
}
