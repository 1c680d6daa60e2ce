package consensus

// LogErr returns nil while this member can append to its Raft log, and
// while it cannot (typically a full disk), an error wrapping ErrLogWrite
// that says why. The log reopens itself when Raft retries an append, so
// this clears without a restart once space returns.
func (r *Replica) LogErr() error {
	if r.logs == nil {
		return nil
	}
	return r.logs.Err()
}
