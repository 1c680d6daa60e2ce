package node

import "errors"

// The member's errors. Every error a Node method returns for one of these
// reasons wraps the sentinel (%w): test with errors.Is, never by text.
var (
	// ErrQueued says a message is safe in the outbox but not committed
	// yet: it will be delivered, exactly once, when the team can commit
	// again.
	ErrQueued = errors.New("not committed yet: the message is queued and will be delivered when the team has quorum")
	// ErrNoQuorum says a team change (a channel, a role, a removal, an
	// invite) could not be committed because the team has no leader;
	// unlike messages, team changes are not queued.
	ErrNoQuorum = errors.New("the team has no quorum: try again when more members are online")
	// ErrInvalid marks a request that can never succeed as asked.
	ErrInvalid = errors.New("invalid request")
	// ErrBadInvite marks an invite code that cannot be used: malformed,
	// expired, already used, or refused by the team.
	ErrBadInvite = errors.New("invalid invite code")
	// ErrRemoved is returned by Open for a member that was removed from
	// its team.
	ErrRemoved = errors.New("this member was removed from the team")
	// ErrDiskFull is wrapped by a send, attach, edit, deletion, reaction,
	// retry, team change (CreateChannel, Conversation, Invite, SetRole,
	// RemoveMember, Pin, Rename, RaiseTeamVersion) or fetch of a file
	// refused because the data dir's disk is full, or has no room for the
	// file.
	ErrDiskFull = errors.New("your disk is full: free space to send; messages from others keep arriving once there is room")
	// ErrNotFetched is returned by OpenFile for a file whose bytes this
	// member does not hold, when it was not asked to fetch them.
	ErrNotFetched = errors.New("the file has not been fetched")
	// ErrNoDataDir says a directory holds no Concord member.
	ErrNoDataDir = errors.New("not a Concord data dir")
	// ErrNewerDataDir says a newer release has run the member in a data
	// dir: this one refuses it and changes nothing.
	ErrNewerDataDir = errors.New("made by a newer Concord")
	// ErrDataDirInUse says a new member was to be made in a directory that
	// already holds one.
	ErrDataDirInUse = errors.New("the directory already holds a Concord member")
)

// JoinRefusedError is a join the team refused (the invite unknown, used,
// expired, forged, or its issuer no longer an admin); it is an
// ErrBadInvite.
type JoinRefusedError struct{ Reason string }

func (e *JoinRefusedError) Error() string        { return "join refused: " + e.Reason }
func (e *JoinRefusedError) Is(target error) bool { return target == ErrBadInvite }
