//go:build linux || darwin || freebsd || dragonfly

package diskspace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func freeSpace(path string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("diskspace: statfs %s: %w", path, err)
	}
	// The field types differ between systems (signed on the BSDs, where
	// Bavail goes negative once root's reserve is in use).
	bsize := uint64(st.Bsize)
	avail := int64(st.Bavail)
	if avail < 0 {
		avail = 0
	}
	return uint64(avail) * bsize, uint64(st.Blocks) * bsize, nil
}
