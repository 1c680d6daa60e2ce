//go:build !(linux || darwin || freebsd || dragonfly || windows)

package diskspace

func freeSpace(string) (free, total uint64, err error) { return 0, 0, ErrUnsupported }
