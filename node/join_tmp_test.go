package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestJoinWithoutSystemTempDir: `concord join` made its ephemeral host's
// scratch dir in the system temp dir, so it failed with "stat /tmp: no such
// file or directory" in the FROM scratch image the chaos suite runs (and on
// any machine without a usable TMPDIR). It now uses the new data dir and
// leaves nothing there.
func TestJoinWithoutSystemTempDir(t *testing.T) {
	c := newTestCluster(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	code, err := c.nodes[0].Invite(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "gone"))
	if _, err := Join(ctx, dir, "bob", code, []string{loopback}, nil); err != nil {
		t.Fatalf("join without a temp dir: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".join-*"))
	if len(left) > 0 {
		t.Fatalf("join left %v behind", left)
	}
	if _, err := os.Stat(configPath(dir)); err != nil {
		t.Fatal(err)
	}
}
