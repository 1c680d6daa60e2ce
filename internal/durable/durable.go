// Package durable makes file system changes survive a crash on every
// platform Concord runs on. It imports nothing of Concord's, so the leaf
// packages (storage) may use it.
package durable

import (
	"errors"
	"fmt"
	"io/fs"
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

// WriteFile replaces path with data so that a crash leaves either the
// old or the new content, never a torn file: temp file in the same
// directory, fsync, rename, fsync of the directory.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, data, perm, false)
}

// CreateFile is WriteFile that never replaces an existing file:
// it fails with an error wrapping fs.ErrExist instead.
func CreateFile(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, data, perm, true)
}

func writeAtomic(path string, data []byte, perm fs.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("durable: creating temp file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		// After a successful rename tmp no longer exists; after a link it
		// must go. Either way removing it is right.
		_ = os.Remove(tmp)
	}()
	if err := writeAndSync(f, data, perm); err != nil {
		return fmt.Errorf("durable: writing %s: %w", tmp, err)
	}
	if exclusive {
		err = linkExclusive(tmp, path)
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("durable: installing %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("durable: syncing directory %s: %w", dir, err)
	}
	return nil
}

func writeAndSync(f *os.File, data []byte, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkExclusive makes tmp visible as path unless path already exists. A hard
// link fails atomically when the target exists; file systems without hard
// links fall back to a check-then-rename.
func linkExclusive(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, statErr := os.Lstat(path); statErr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, path)
}
