// Package smallfs gives tests a real, small filesystem (a size-limited
// tmpfs) to run out of space on, and a filler file to take the space away
// and give it back. Mounting needs root; tests skip without it.
package smallfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new temporary directory; see
// MountAt.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	MountAt(t, dir, size)
	return dir
}

// MountAt mounts a tmpfs of size bytes on dir (made if missing) and
// unmounts it when the test ends. It skips the test where mounting is not
// possible (not root, no mount command, a sandbox that forbids it).
func MountAt(t testing.TB, dir string, size int64) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a small filesystem needs root (mount -t tmpfs)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10)+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// Filler takes the space of a filesystem away and gives it back.
type Filler struct {
	t    testing.TB
	path string
}

// Fill writes a filler file in dir until at most leave bytes stay free.
func Fill(t testing.TB, dir string, leave int64) *Filler {
	t.Helper()
	f := &Filler{t: t, path: filepath.Join(dir, "filler")}
	file, err := os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	// Large writes while far from leave: a chaos nemesis fills a disk under
	// load and must be done before the member writes much more.
	buf := make([]byte, 1<<20)
	for free := Free(t, dir); free > leave; free = Free(t, dir) {
		n := min(int64(len(buf)), free-leave)
		if _, err := file.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	return f
}

// Release deletes the filler, giving its space back.
func (f *Filler) Release() {
	f.t.Helper()
	if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Fatal(err)
	}
}
