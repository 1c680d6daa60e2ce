//go:build windows

package diskspace

import (
	"fmt"

	"golang.org/x/sys/windows"
)

func freeSpace(path string) (free, total uint64, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, fmt.Errorf("diskspace: %s: %w", path, err)
	}
	var avail, size, all uint64
	// GetDiskFreeSpaceExW: avail honours the caller's disk quota.
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &size, &all); err != nil {
		return 0, 0, fmt.Errorf("diskspace: GetDiskFreeSpaceEx %s: %w", path, err)
	}
	return avail, size, nil
}
