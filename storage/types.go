package storage

import "time"

// Envelope is a chat message as its author hands it to the team: the unit that
// is deduplicated (by ID) and ordered (per channel) by the replicated log.
type Envelope struct {
	ID      string    `json:"id"`
	Author  string    `json:"author"` // libp2p peer ID (string form) of the author
	Channel string    `json:"channel"`
	Text    string    `json:"text"`
	SentAt  time.Time `json:"sent_at"` // author's (corrected) clock when sent
}

// Message is an envelope after commit: its place in the channel and the
// commit time the log gave it.
type Message struct {
	Envelope
	Seq         uint64    `json:"seq"`
	CommittedAt time.Time `json:"committed_at"`
	Index       uint64    `json:"index"` // Raft log index of the entry that carried it
}

// Channel is a named stream of messages.
type Channel struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Messages  uint64    `json:"messages"` // also the seq of the last message
}

// Member is a peer admitted to the team.
type Member struct {
	ID       string    `json:"id"` // libp2p peer ID
	Name     string    `json:"name"`
	Role     string    `json:"role"` // RoleAdmin or RoleMember
	Addrs    []string  `json:"addrs,omitempty"`
	JoinedAt time.Time `json:"joined_at"`
}

// Roles a member can have.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// OpKind says what an Op does.
type OpKind uint8

// Kinds of operation carried in a Raft entry.
const (
	OpMessage       OpKind = 1 // store Envelope unless its ID was already applied
	OpCreateChannel OpKind = 2 // create Channel (no-op result Exists if present)
	OpAddMember     OpKind = 3 // add or update Member
)

// Op is one state change inside a replicated entry. Exactly one of the
// pointer fields matching Kind is set.
type Op struct {
	Kind    OpKind    `json:"k"`
	Message *Envelope `json:"m,omitempty"`
	Channel string    `json:"c,omitempty"`
	Member  *Member   `json:"p,omitempty"`
}

// Entry is one committed Raft log entry as the store sees it.
type Entry struct {
	Index       uint64
	CommittedAt time.Time // the leader's stamp; the store keeps it strictly increasing
	Ops         []Op      // nil for entries that only advance the index (configuration changes)
}

// Result is the outcome of one Op, in the same position as the Op.
type Result struct {
	Seq         uint64    `json:"seq,omitempty"`          // message seq (new or, for a duplicate, the existing one)
	Channel     string    `json:"channel,omitempty"`      // channel the message lives in
	CommittedAt time.Time `json:"committed_at,omitempty"` // commit time of the (possibly earlier) message
	Dup         bool      `json:"dup,omitempty"`          // ID already applied: nothing stored
	Err         string    `json:"err,omitempty"`          // deterministic refusal (unknown channel, ...)
}
