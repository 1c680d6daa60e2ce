package consensus

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/types"

	"concord/internal/durable"
)

// walFS is raft-wal's file system with its directory fsyncs done through
// durable.SyncDir. raft-wal v0.4.0 fsyncs a directory when it deletes a
// segment and at the first Sync of a new one, which Windows refuses
// ("Access is denied", hashicorp/raft-wal#42): on Windows the log could not
// start its second segment. Where directories can be synced it is raft-wal's
// own file system unchanged.
type walFS struct {
	*fs.FS
	syncDirs bool // false: skip directory fsyncs (Windows)
}

func newWALFS() walFS { return walFS{FS: fs.New(), syncDirs: durable.DirSyncNeeded()} }

// Create creates a segment file. raft-wal's file fsyncs its directory at
// its first Sync; without directory fsyncs the plain file is handed out.
func (w walFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	f, err := w.FS.Create(dir, name, size)
	if err != nil || w.syncDirs {
		return f, err
	}
	if rf, ok := f.(*fs.File); ok {
		return &rf.File, nil
	}
	return f, nil
}

// Delete removes a segment file.
func (w walFS) Delete(dir, name string) error {
	if w.syncDirs {
		return w.FS.Delete(dir, name)
	}
	return os.Remove(filepath.Join(dir, name))
}

// prepareMeta creates raft-wal's meta store in dir where directories cannot
// be synced. raft-wal creates it under a temporary name, renames it and then
// fsyncs the directory, which fails on Windows after the file is in place
// (hashicorp/raft-wal#42); opening it once more finds the file and opens it.
func prepareMeta(dir string, syncDirs bool) error {
	path := filepath.Join(dir, metadb.FileName)
	if _, err := os.Stat(path); syncDirs || err == nil {
		return nil
	}
	m := &metadb.BoltMetaDB{}
	_, err := m.Load(dir)
	err = errors.Join(err, m.Close())
	if _, serr := os.Stat(path); serr == nil {
		return nil
	}
	return err
}

var _ types.VFS = walFS{}
