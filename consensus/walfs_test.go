package consensus

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
)

// TestWALFSWithoutDirSync: where directories cannot be fsynced (Windows),
// segment files are plain files whose Sync touches only the file, deletion
// only removes, and the meta store is created anyway.
func TestWALFSWithoutDirSync(t *testing.T) {
	for _, syncDirs := range []bool{true, false} {
		dir := t.TempDir()
		w := walFS{FS: fs.New(), syncDirs: syncDirs}
		f, err := w.Create(dir, "seg", 4096)
		if err != nil {
			t.Fatal(err)
		}
		if _, plain := f.(*os.File); plain == syncDirs {
			t.Errorf("syncDirs=%v: Create gave a %T", syncDirs, f)
		}
		if _, err := f.WriteAt([]byte("frame"), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Errorf("syncDirs=%v: Sync: %v", syncDirs, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Delete(dir, "seg"); err != nil {
			t.Errorf("syncDirs=%v: Delete: %v", syncDirs, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "seg")); !os.IsNotExist(err) {
			t.Errorf("syncDirs=%v: segment still there after Delete: %v", syncDirs, err)
		}
		if err := prepareMeta(dir, syncDirs); err != nil {
			t.Fatalf("syncDirs=%v: prepareMeta: %v", syncDirs, err)
		}
		_, err = os.Stat(filepath.Join(dir, metadb.FileName))
		if exists := err == nil; exists == syncDirs {
			t.Errorf("syncDirs=%v: meta store made ahead: %v", syncDirs, exists)
		}
	}
}
