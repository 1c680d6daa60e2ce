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
	// ReplyTo is the ID of the message this one answers ("": none). A
	// reply is stored even if its parent is unknown, so that a committed
	// message is never dropped.
	ReplyTo string `json:"reply_to,omitempty"`
	// File is the attachment the message carries (nil: none); its bytes
	// travel between members, not in the log.
	File *FileRef `json:"file,omitempty"`
	// Action makes the envelope an edit, deletion or reaction of an
	// earlier message instead of a new message (nil: a message). Only a
	// member's outbox and drainer carry it, so that such an op waits for
	// quorum durably and in order with the member's messages; it is
	// proposed as the Op that Envelope.Op gives, whose ID the log
	// deduplicates like a message ID.
	Action *Action `json:"action,omitempty"`
}

// Action is what an envelope does to message Target: Kind is OpEdit (the
// envelope's Text is the new text), OpDelete (no text) or OpReact (Text is
// the emoji, Remove takes it back).
type Action struct {
	Kind   OpKind `json:"kind"`
	Target string `json:"target"`
	Remove bool   `json:"remove,omitempty"`
}

// Op is the op that proposes e: a new message, or its Action with the
// envelope's ID as the op's ID and its author as proposer.
func (e Envelope) Op() Op {
	if a := e.Action; a != nil {
		return Op{Kind: a.Kind, ID: e.ID, By: e.Author, Target: a.Target, Text: e.Text, Remove: a.Remove}
	}
	return Op{Kind: OpMessage, Message: &e}
}

// FileRef describes an attached file: the log carries this, the bytes
// move over /concord/blob/1.0.0 and are verified against Hash.
type FileRef struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"` // MIME type
	Hash string `json:"hash"` // SHA-256, hex
}

// Message is an envelope after commit: its place in the channel and the
// commit time the log gave it.
type Message struct {
	Envelope
	Seq         uint64    `json:"seq"`
	CommittedAt time.Time `json:"committed_at"`
	Index       uint64    `json:"index"`              // Raft log index of the entry that carried it
	EditedAt    time.Time `json:"edited_at,omitzero"` // commit time of the latest edit
	Deleted     bool      `json:"deleted,omitempty"`  // deleted: Text is empty
	// Reactions maps an emoji to the members who reacted with it, sorted;
	// filled by reads.
	Reactions map[string][]string `json:"reactions,omitempty"`
}

// Channel is a named stream of messages.
type Channel struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Messages  uint64    `json:"messages"` // also the seq of the last message
	// Members are the participants of a private conversation (nil: a
	// channel every member reads). Private texts are sealed to them.
	Members []string `json:"members,omitempty"`
}

// Member is a peer admitted to the team.
type Member struct {
	ID       string    `json:"id"` // libp2p peer ID
	Name     string    `json:"name"`
	Role     string    `json:"role"` // RoleAdmin or RoleMember
	Addrs    []string  `json:"addrs,omitempty"`
	JoinedAt time.Time `json:"joined_at"`
	BoxKey   string    `json:"box_key,omitempty"` // X25519 public key private messages are sealed to
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
	OpAddMember     OpKind = 3 // admit Member (with an invite Token), or update one's own name/addresses
	OpRemoveMember  OpKind = 4 // remove member Target (an admin, or the member itself leaving)
	OpSetRole       OpKind = 5 // give member Target the Role (admins only)
	OpInvite        OpKind = 6 // record Invite, so its holder can redeem it once (admins only)
	OpEdit          OpKind = 7 // replace the Text of message Target (its author only)
	OpDelete        OpKind = 8 // delete message Target (its author or an admin)
	OpReact         OpKind = 9 // add (or, with Remove, take back) By's reaction Text to message Target
	// OpSetTeamVersion raises the team version to Version (a member's
	// proposal: the leader's once every member supports it, or an
	// admin's forced raise); it never lowers it.
	OpSetTeamVersion OpKind = 13
	// OpPin pins message Target in its channel (with Remove, unpins it);
	// members only. Protocol 3.
	OpPin OpKind = 14
)

// ChangesTeam reports whether applying an op of kind k may change the team:
// its members, their roles or the open invites (who may connect, who
// votes).
func (k OpKind) ChangesTeam() bool {
	switch k {
	case OpAddMember, OpRemoveMember, OpSetRole, OpInvite:
		return true
	}
	return false
}

// Op is one state change inside a replicated entry. Exactly one of the
// payloads matching Kind is set. By is the member that proposed a
// non-message op (the leader checks it is the peer that handed the op
// over); Apply checks it may do so, deterministically, against the
// committed member list.
type Op struct {
	Kind OpKind `json:"k"`
	// ID identifies an edit, deletion or reaction so that Apply applies
	// it once however often it is proposed ("": ops from before IDs,
	// applied every time).
	ID      string    `json:"id,omitempty"`
	By      string    `json:"by,omitempty"`
	Message *Envelope `json:"m,omitempty"`
	Channel string    `json:"c,omitempty"`
	Member  *Member   `json:"p,omitempty"`
	Token   string    `json:"t,omitempty"` // OpAddMember: the invite redeemed
	Target  string    `json:"x,omitempty"` // OpRemoveMember, OpSetRole: the member's ID
	Role    string    `json:"r,omitempty"` // OpSetRole
	Invite  *Invite   `json:"i,omitempty"`
	Text    string    `json:"s,omitempty"` // OpEdit: the new text; OpReact: the emoji
	// Participants makes an OpCreateChannel a private conversation.
	Participants []string `json:"pp,omitempty"`
	Remove       bool     `json:"rm,omitempty"` // OpReact: take the reaction back
	Version      int      `json:"v,omitempty"`  // OpSetTeamVersion: the new team version
	// Invitee and Admission, on an OpAddMember that redeems an invite in a
	// signing team (protocol 4): the invite's key the joiner connected
	// with, and that key's signature admitting Member (consensus checks
	// the signature, Apply that the key is the invite's).
	Invitee   string `json:"ik,omitempty"`
	Admission []byte `json:"ia,omitempty"`

	// Sig is the author's signature over the group of its ops this op
	// rides in (protocol 4; nil before): ops of one group share it.
	Sig *SignedGroup `json:"-"`
	// Canon is the op's canonical form, whose SHA-256 Sig lists.
	Canon []byte `json:"-"`
	// Refused, set by consensus before Apply when the signature does not
	// check, makes Apply refuse the op with this reason.
	Refused string `json:"-"`
}

// SignedGroup is one author's Ed25519 signature (its libp2p identity key)
// over a run of its ops in a log entry (protocol 4): over the team ID, the
// signer and the SHA-256 of each op's canonical form, in order. The store
// keeps it, and each applied op's canonical form, so that the history can
// be checked again later (Store.WalkSigned).
type SignedGroup struct {
	Signer string
	Sig    []byte
	Hashes [][]byte
}

// Author is the member an op speaks for: a message's author, any other
// op's proposer.
func (op Op) Author() string {
	if op.Kind == OpMessage && op.Message != nil {
		return op.Message.Author
	}
	return op.By
}

// Invite is an invitation an admin issued. The invite code carries the
// private key of Key: whoever holds it may connect to the team as Key and
// redeem the invite, once, before Expires.
type Invite struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`    // peer ID the redeemer connects as
	Issuer  string    `json:"issuer"` // the admin who issued it
	Expires time.Time `json:"expires"`
	UsedBy  string    `json:"used_by,omitempty"` // set when redeemed
}

// Open reports whether the invite can still be redeemed at t.
func (i Invite) Open(t time.Time) bool { return i.UsedBy == "" && t.Before(i.Expires) }

// Removal records a member's removal, so that the team keeps refusing it.
type Removal struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
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
