//go:build !headless

package backend

import (
	"testing"

	"concord/app"
	"concord/diskspace"
)

// TestBackendDiskStates: the window's disk states are the member's levels,
// which Backend.Status passes through as strings.
func TestBackendDiskStates(t *testing.T) {
	for _, p := range []struct {
		app  app.DiskState
		node diskspace.Level
	}{{app.DiskOK, diskspace.OK}, {app.DiskLow, diskspace.Low}, {app.DiskFull, diskspace.Full}} {
		if string(p.app) != string(p.node) {
			t.Errorf("app.DiskState %q != diskspace.Level %q", p.app, p.node)
		}
	}
}
