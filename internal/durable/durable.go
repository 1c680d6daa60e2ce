// Package durable makes file system changes survive a crash on every
// platform Concord runs on. It imports nothing of Concord's, so the leaf
// packages (storage) may use it.
package durable

import (
	"errors"
	"os"
	"path/filepath"
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

// WriteFile replaces path with data atomically: a crash leaves the old or
// the new file, never half of one (a temporary file, fsynced, renamed over
// path, then the directory fsynced).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}
