package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Edits, deletions and reactions that travel through a member's outbox
// carry an ID (Op.ID), and may be proposed more than once: a timeout only
// means "unknown", so the drainer proposes them again. Apply records each
// ID with its outcome in bucketOpIDs and answers a repeat with the first
// outcome (Result.Dup), so that a stale copy committed after a later edit
// cannot undo it. Like the message dedup index it is replicated state.

// refBadOpID refuses an op whose ID could not be stored.
const refBadOpID = "an operation ID is at most 64 bytes"

// once applies op with apply unless its ID was applied before.
func (a *applier) once(op Op, apply func() (Result, error)) (Result, error) {
	if op.ID == "" {
		return apply()
	}
	if len(op.ID) > MaxIDBytes {
		return Result{Err: refBadOpID}, nil
	}
	v, err := a.opids.get([]byte(op.ID))
	if err != nil {
		return Result{}, err
	}
	if v != nil && dedup {
		if len(v) == 0 {
			return Result{}, fmt.Errorf("%w: empty op record %q", ErrCorrupt, op.ID)
		}
		return Result{Dup: true, Err: string(v[1:])}, nil
	}
	r, err := apply()
	if err != nil {
		return r, err
	}
	return r, a.opids.put([]byte(op.ID), append([]byte{1}, r.Err...))
}

// OpResult reports whether the op with this ID (an edit, deletion or
// reaction) was applied and, if the log refused it, why ("" when it took
// effect).
func (s *Store) OpResult(id string) (applied bool, refusal string, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		opids, err := topBucket(tx, bucketOpIDs)
		if err != nil {
			return err
		}
		v, err := opids.get([]byte(id))
		if err != nil || v == nil {
			return err
		}
		if len(v) == 0 {
			return fmt.Errorf("%w: empty op record %q", ErrCorrupt, id)
		}
		applied, refusal = true, string(v[1:])
		return nil
	})
	if err != nil {
		return false, "", fmt.Errorf("storage: op result %q: %w", id, err)
	}
	return applied, refusal, nil
}
