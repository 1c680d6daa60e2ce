package storage

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The change feed: every edit, deletion and reaction that applies appends
// the changed message's place to bucketChanges under a number that grows
// by one per change. Readers that keep a copy of messages (the GUI's
// window, the search index) follow it with Changes instead of rescanning.
// It keeps the last maxChanges entries; like the rest of the state it is
// written in the entry's transaction and travels in snapshots, so every
// member numbers changes alike.

// maxChanges bounds the feed; a reader further behind is told it missed
// some (Changes' complete is false) and rereads what it keeps.
const maxChanges = 10000

// Change says that message ID (in Channel at Seq) was edited, deleted or
// had its reactions changed by change number N.
type Change struct {
	N       uint64
	Channel string
	Seq     uint64
	ID      string
}

// changed records a change to m in the feed.
func (a *applier) changed(m *Message) error {
	n, err := a.changes.b.NextSequence()
	if err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint64([]byte(m.Channel+"\x00"), m.Seq)
	if err := a.changes.put(seqKey(n), append(v, m.ID...)); err != nil {
		return err
	}
	if n > maxChanges {
		return a.changes.delete(seqKey(n - maxChanges))
	}
	return nil
}

// Changes returns up to limit changes numbered above after, oldest first.
// complete is false when changes right after after were already dropped
// from the feed: the reader missed some and must reread what it keeps.
func (s *Store) Changes(after uint64, limit int) (out []Change, complete bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b, err := topBucket(tx, bucketChanges)
		if err != nil {
			return err
		}
		c := b.b.Cursor()
		k, v := c.Seek(seqKey(after + 1))
		complete = after >= b.b.Sequence() || (k != nil && binary.BigEndian.Uint64(k) == after+1)
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			body, err := b.open(k, v)
			if err != nil {
				return err
			}
			ch, err := decodeChange(k, body)
			if err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("storage: changes: %w", err)
	}
	return out, complete, nil
}

// LastChange is the number of the latest change (0: none yet).
func (s *Store) LastChange() (n uint64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b, err := topBucket(tx, bucketChanges)
		if err == nil {
			n = b.b.Sequence()
		}
		return err
	})
	return n, err
}

func decodeChange(k, v []byte) (Change, error) {
	n, err := decodeUint64(k, "change number")
	if err != nil {
		return Change{}, err
	}
	i := 0
	for i < len(v) && v[i] != 0 {
		i++
	}
	if len(v) < i+9 {
		return Change{}, fmt.Errorf("%w: change %d is %d bytes", ErrCorrupt, n, len(v))
	}
	return Change{N: n, Channel: string(v[:i]), Seq: binary.BigEndian.Uint64(v[i+1 : i+9]), ID: string(v[i+9:])}, nil
}
