package durable

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir(%s): %v", dir, err)
	}
	if DirSyncNeeded() == (runtime.GOOS == "windows") {
		t.Errorf("DirSyncNeeded() = %v on %s", DirSyncNeeded(), runtime.GOOS)
	}
	if DirSyncNeeded() {
		if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
			t.Error("SyncDir of a missing directory succeeded")
		}
	}
}
