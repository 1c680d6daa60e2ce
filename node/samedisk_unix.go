//go:build unix

package node

import (
	"os"
	"syscall"
)

// sameDisk says whether paths a and b are on one filesystem. When either
// cannot be read it says yes: counting a write against the data dir's disk
// that lands elsewhere only refuses early, never fills it.
func sameDisk(a, b string) bool {
	da, oka := device(a)
	db, okb := device(b)
	return !oka || !okb || da == db
}

func device(path string) (uint64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Dev), true // int32 on darwin
}
