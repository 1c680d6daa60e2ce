//go:build !unix

package node

import "path/filepath"

// sameDisk says whether paths a and b are on one filesystem: here, on the
// same volume (drive letter or share). Counting a write against the data
// dir's disk that lands elsewhere only refuses early, never fills it.
func sameDisk(a, b string) bool {
	va, errA := filepath.Abs(a)
	vb, errB := filepath.Abs(b)
	return errA != nil || errB != nil || filepath.VolumeName(va) == filepath.VolumeName(vb)
}
