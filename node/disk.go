package node

import (
	"context"
	"fmt"

	"concord/diskspace"
)

// Disk space is a state of the member: a watcher reads the data dir's free
// space every few seconds; when the disk is full, this member refuses new
// sends and team changes of its own with ErrDiskFull before touching the
// outbox or proposing anything (rather than failing half way through a
// write), refuses to fetch a file there is no room for, and stops fetching
// files on its own. The margin left below "full" (16 MB) is for the Raft
// log and the chat state, which keep taking messages from others.

// startDisk starts watching the data dir's free space.
func (n *Node) startDisk(ctx context.Context) error {
	dc := n.conf.diskConfig(n.cfg.Dir)
	dc.Interval, dc.Free, dc.Logger = n.cfg.DiskInterval, n.cfg.DiskFree, n.cfg.Logger
	var err error
	if n.disk, err = diskspace.New(dc); err != nil {
		return err
	}
	// A failed first reading is logged by the watcher, which keeps trying;
	// until it succeeds the disk counts as ok.
	_ = n.disk.Start(ctx)
	return nil
}

// roomFor refuses a write of this member's own of about need bytes when
// the disk is full, or would be after it. A full reading may be up to an
// interval old, so it is read again first: the user may just have freed
// space and pressed send.
func (n *Node) roomFor(ctx context.Context, need int64) error {
	s := n.disk.State()
	if !fits(s, need) {
		s, _ = n.disk.Check(ctx) // a failed reading keeps the last state
	}
	if fits(s, need) {
		return nil
	}
	if s.Level != diskspace.Full {
		return fmt.Errorf("%w (the file needs %d MB, %d MB are free)", ErrDiskFull, need>>20, s.Free>>20)
	}
	return ErrDiskFull
}

// fits says whether need bytes can be written and leave the disk above
// full. Nothing is known (Total 0) before the first reading: it fits.
func fits(s diskspace.DiskState, need int64) bool {
	if s.Level == diskspace.Full {
		return false
	}
	return s.Total == 0 || need <= 0 || uint64(need)+diskspace.DefaultFullBytes <= s.Free
}

// roomToFetch says whether files may be fetched now: only while the disk is
// ok, so that fetching never makes it low. When it is not, the returned
// channel closes at the next change of the disk's state.
func (n *Node) roomToFetch() (bool, <-chan struct{}) {
	changed := n.disk.Changed()
	return n.disk.State().Level == diskspace.OK, changed
}
