package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// counterFSM is a trivial raft.FSM that counts the entries applied to it.
type counterFSM struct {
	n atomic.Uint64
}

var _ raft.FSM = (*counterFSM)(nil)

// Apply counts one applied entry.
func (f *counterFSM) Apply(*raft.Log) any {
	f.n.Add(1)
	return nil
}

// Snapshot captures the current count.
func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	return counterSnapshot(f.n.Load()), nil
}

// Restore replaces the count with the one in the snapshot.
func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var buf [8]byte
	if _, err := io.ReadFull(rc, buf[:]); err != nil {
		return fmt.Errorf("bench: restore counter: %w", err)
	}
	f.n.Store(binary.BigEndian.Uint64(buf[:]))
	return nil
}

// counterSnapshot is a point-in-time count, persisted as 8 big-endian bytes.
type counterSnapshot uint64

// Persist writes the count to sink.
func (s counterSnapshot) Persist(sink raft.SnapshotSink) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(s))
	if _, err := sink.Write(buf[:]); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("bench: persist counter: %w", err)
	}
	return sink.Close()
}

// Release does nothing: the snapshot holds no resources.
func (counterSnapshot) Release() {}
