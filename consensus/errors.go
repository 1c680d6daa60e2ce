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
