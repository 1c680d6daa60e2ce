package storage

import "errors"

// Sentinel errors. Functions wrap them with %w and add context (path,
// channel, ID), so test them with errors.Is.
var (
	// ErrNotFound is returned by reads for a channel, message or member that
	// does not exist.
	ErrNotFound = errors.New("not found")

	// ErrUnknownChannel is returned by channel-scoped reads for a channel that
	// does not exist. It matches ErrNotFound too, so callers that only care
	// about "missing" need a single check. Its text is also the Result.Err of a
	// message sent to a missing channel.
	ErrUnknownChannel error = unknownChannelError{}

	// ErrChannelExists is the Result.Err text of creating a channel twice.
	ErrChannelExists = errors.New("channel exists")

	// ErrCorrupt is returned when the data file (or a snapshot being restored)
	// is not a valid concord store.
	ErrCorrupt = errors.New("data file is corrupt")

	// ErrLocked is returned by Open when another process holds the data file.
	ErrLocked = errors.New("data is in use by another concord process")

	// ErrNewerSchema is returned by Open for a file written by a newer
	// release: it is refused and left as it is (never taken for damage and
	// rebuilt).
	ErrNewerSchema = errors.New("the data file was made by a newer Concord release")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store is closed")

	// ErrApplyFailed is returned by Apply after an Apply failed, until
	// Reopen: nothing is written past an entry that was not.
	ErrApplyFailed = errors.New("an earlier apply failed; reopen the store to resume")

	// ErrInvalidEnvelope is wrapped by ValidateEnvelope errors.
	ErrInvalidEnvelope = errors.New("invalid envelope")

	// ErrInvalidChannelName is wrapped by ValidChannelName errors.
	ErrInvalidChannelName = errors.New("invalid channel name")

	// ErrInvalidMember is wrapped by errors about a malformed OpAddMember.
	ErrInvalidMember = errors.New("invalid member")

	// ErrInvalidQuery is returned by History for a malformed Query.
	ErrInvalidQuery = errors.New("invalid query")
)

// unknownChannelError is its own type rather than a wrapped ErrNotFound so
// that its text stays exactly "unknown channel": that text is replicated in
// Results and must not change.
type unknownChannelError struct{}

func (unknownChannelError) Error() string { return "unknown channel" }

// Is makes errors.Is(ErrUnknownChannel, ErrNotFound) true.
func (unknownChannelError) Is(target error) bool { return target == ErrNotFound }
