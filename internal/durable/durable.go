// Package durable makes file system changes survive a crash on every
// platform Concord runs on. It imports nothing of Concord's, so the leaf
// packages (storage) may use it.
package durable

import (
	"errors"
	"os"
)

// SyncDir makes the renames, creations and deletions in dir durable by
// fsyncing the directory. Windows has no such operation (FlushFileBuffers
// on a directory handle fails with "Access is denied") and needs none: NTFS
// journals its metadata. So it does nothing there (syncdir_windows.go).
func SyncDir(dir string) error {
	if !dirSyncNeeded {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// DirSyncNeeded says whether this platform can and must fsync directories.
func DirSyncNeeded() bool { return dirSyncNeeded }
