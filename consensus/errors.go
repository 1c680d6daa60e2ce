package consensus

import "errors"

// Errors a proposer can get. Only ErrRefused is final; the others mean
// "not committed yet, or unknown" and the op may be retried with the same ID.
var (
	ErrNotLeader = errors.New("consensus: this member is not the leader")
	ErrNoLeader  = errors.New("consensus: the team has no leader (no quorum?)")
	ErrRefused   = errors.New("consensus: the leader refused the operation")
	ErrClosed    = errors.New("consensus: closed")
)

// ErrLogWrite is wrapped by Replica.StorageErr while this member cannot append
// to its Raft log (a full disk): it neither stores nor votes for new
// entries until it can again, which it notices by itself.
var ErrLogWrite = errors.New("the Raft log cannot be written")

// ErrSnapshotWrite is wrapped by Replica.StorageErr while a snapshot (one
// from the leader, to catch up, or this member's own) cannot be written.
var ErrSnapshotWrite = errors.New("a Raft snapshot cannot be written")
