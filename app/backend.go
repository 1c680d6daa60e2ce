package app

import (
	"context"
	"errors"
	"io"
	"time"

	"concord/storage"
)

// Backend is everything the GUI needs from a member. Package main adapts its
// Node to it; tests use an in-memory fake. Every blocking method takes ctx
// first and returns when ctx ends.
type Backend interface {
	// Send hands a message to the team and waits until it is committed,
	// returning its ID. An error wrapping ErrQueued means the message is safe
	// in the outbox and will be delivered later (the ID is still returned);
	// any other error means it was not accepted.
	Send(ctx context.Context, channel, text string) (id string, err error)
	// Retry puts the user's message id, which the team refused, back in the
	// queue and waits like Send: nil once it is committed, an error
	// wrapping ErrQueued while it waits for quorum, any other error if it
	// cannot be retried (unknown ID) or was refused again.
	Retry(ctx context.Context, id string) error
	// History pages backwards: up to limit committed messages of channel
	// whose Seq is below before (before == 0: the newest), oldest first.
	History(ctx context.Context, channel string, before uint64, limit int) ([]storage.Message, error)
	// Channels lists the team's channels.
	Channels(ctx context.Context) ([]storage.Channel, error)
	// CreateChannel creates a channel (no error if it already exists).
	CreateChannel(ctx context.Context, name string) error
	// Pins lists channel's pinned messages, in channel order; Pin pins
	// message id in its channel (unpin: takes the pin off).
	Pins(ctx context.Context, channel string) ([]storage.Message, error)
	Pin(ctx context.Context, id string, unpin bool) error
	// Members lists the team's members with their vote, liveness and
	// leadership.
	Members(ctx context.Context) ([]Member, error)
	// RemoveMember removes member id from the team (admins only): it loses
	// its vote and is cut off.
	RemoveMember(ctx context.Context, id string) error
	// Status reports this member's view of the team.
	Status(ctx context.Context) (Status, error)
	// Invite returns a new invite code for another member to join with.
	Invite(ctx context.Context) (string, error)
	// Events subscribes to pushed changes: every message committed from now
	// on, status and channel changes. A slow subscriber may miss events (the
	// producer never blocks); the returned func unsubscribes and closes the
	// channel.
	Events() (<-chan Event, func())
	// Settings reads this member's settings.
	Settings(ctx context.Context) (Settings, error)
	// SaveSettings stores s (DataDir is not editable and ignored): the
	// display name is committed to the team, the NTP servers are kept for
	// the next start. An invalid value gives an error saying which.
	SaveSettings(ctx context.Context, s Settings) error
	// CreateTeam creates a new team on first run, with this member as admin.
	CreateTeam(ctx context.Context, team, name string) error
	// JoinTeam joins a team with an invite code on first run. An invalid or
	// expired code gives an error wrapping ErrBadInvite.
	JoinTeam(ctx context.Context, code, name string) error
	// BrowseTeams looks for teams announced on the LAN until ctx ends,
	// calling found (from another goroutine) with all seen so far whenever
	// the list changes. The welcome screen shows them as a hint.
	BrowseTeams(ctx context.Context, found func([]LANTeam)) error

	// Search finds up to limit messages matching query (every word; a
	// trailing * makes a prefix) in the channels this member reads, newest
	// first, private conversations this member is in included.
	Search(ctx context.Context, query string, limit int) ([]storage.Message, error)
	// StartConversation returns the channel of this member's private
	// conversation with the members with (IDs), creating it on first use.
	StartConversation(ctx context.Context, with []string) (channel string, err error)
	// Attach sends the file at path to channel and waits like Send;
	// progress, if set, hears the bytes stored so far of total.
	Attach(ctx context.Context, channel, path string, progress func(done, total int64)) (id string, err error)
	// Fetch writes the file of message id to path, fetching it from a
	// member that has it first; progress as for Attach.
	Fetch(ctx context.Context, id, path string, progress func(done, total int64)) error
	// OpenFile opens this member's copy of file's bytes. When it has none
	// it fetches them first if fetch is set, else it fails with
	// ErrNotFetched.
	OpenFile(ctx context.Context, file storage.FileRef, fetch bool) (io.ReadSeekCloser, error)
	MessageActions
}

// LANTeam is a team seen on the LAN.
type LANTeam struct {
	Name    string
	Members int // members seen announcing it
}

// MessageActions act on committed messages. Each waits for the commit; an
// error says why the team refused (not the author, no quorum, ...). The
// changed message then arrives as an EventChanged.
type MessageActions interface {
	// Reply sends text as an answer to message parent, in parent's
	// channel, and waits like Send (ErrQueued included).
	Reply(ctx context.Context, parent, text string) (id string, err error)
	// Edit replaces the text of the user's own message id.
	Edit(ctx context.Context, id, text string) error
	// Delete deletes message id: the user's own, or anyone's for an admin.
	Delete(ctx context.Context, id string) error
	// React toggles the user's reaction emoji on message id.
	React(ctx context.Context, id, emoji string) error
}

// ErrNotFetched is wrapped by Backend.OpenFile when the file's bytes are
// not on this member and it was not asked to fetch them.
var ErrNotFetched = errors.New("file not fetched yet")

// ErrQueued is wrapped by Backend.Send when a message is safely queued but
// not committed yet (no quorum, or the wait timed out).
var ErrQueued = errors.New("queued: will be delivered when the team has quorum")

// ErrBadInvite is wrapped by Backend.JoinTeam when the invite code cannot be
// used (malformed, expired, already redeemed, or for another team).
var ErrBadInvite = errors.New("invalid invite code")

// Status is the GUI's view of the member and its team.
type Status struct {
	Self        string        // this member's peer ID
	Team        string        // team name
	Role        string        // Raft role: leader, follower, ...
	Leader      string        // leader's peer ID; empty when there is no quorum
	Voters      []string      // voting members' peer IDs
	Connected   int           // other members currently reachable
	Total       int           // other members
	Queued      int           // messages in the outbox not committed yet
	ClockSource string        // ntp, peer or system
	ClockOffset time.Duration // correction applied to the system clock
	Disk        DiskState     // room left on the data dir's disk; "" is ok
	DiskFree    uint64        // bytes free on it
	// Storage is a sentence while this member cannot store the team's
	// messages (its disk is full, a file fails, the team's log needs a
	// newer release) or its history differs from the team's, empty while
	// all is well.
	Storage string
	// Release is this member's release; TeamVersion the team version
	// committed in its log (the About box).
	Release     string
	TeamVersion int
	// Upgrade is a sentence while this member has stopped at an entry of
	// the team's log its release cannot read ("this team now needs
	// Concord X or later; you have Y"); the window shows it as a banner.
	Upgrade string
}

// DiskState says how much room the member's disk has left.
type DiskState string

// The disk states; the window shows a banner for DiskLow and DiskFull.
const (
	DiskOK   DiskState = "ok"
	DiskLow  DiskState = "low"  // still works; files are not fetched
	DiskFull DiskState = "full" // sends are refused until space is freed
)

// EventKind says what an Event carries.
type EventKind int

// Kinds of Event.
const (
	EventMessage  EventKind = iota + 1 // Message was committed
	EventStatus                        // Status changed: call Backend.Status
	EventChannels                      // channels changed: call Backend.Channels
	EventChanged                       // Message was edited, deleted or reacted to: its new state
	EventStale                         // changes were missed: reread the messages shown
)

// Event is one change pushed by the Backend.
type Event struct {
	Kind    EventKind
	Message storage.Message // set for EventMessage and EventChanged
}
