// Package diskspace watches the free space of the filesystem that holds a
// member's data dir, so that a full disk is a state the member reports and
// acts on (refusing new sends, pausing file fetches) rather than a write
// that fails half way.
//
// It is a leaf: the standard library and golang.org/x/sys only. It is its
// own package rather than part of storage because it is not chat state and
// runs its own goroutine; storage stays the bbolt state and nothing else.
package diskspace
