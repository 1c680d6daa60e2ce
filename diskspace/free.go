package diskspace

import "errors"

// ErrUnsupported is returned by Free on a system where this package cannot
// ask for the free space.
var ErrUnsupported = errors.New("diskspace: free space is not known on this system")

// Free reports the bytes available to this (unprivileged) process on the
// filesystem that holds path, and the filesystem's size. Space reserved for
// root is not counted as free: a write would not get it.
func Free(path string) (free, total uint64, err error) { return freeSpace(path) }
