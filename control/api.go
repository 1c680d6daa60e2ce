package control

import (
	"cmp"
	"strings"
	"time"

	"concord/failover"
	"concord/node"
	"concord/storage"
	"concord/timesync"
)

// The control API's requests and answers, declared once: the server, the
// client, the CLI and the tests use these. Field names and JSON keys are
// the CLI contract (`concord … --json`): change them only with the docs.

// SendRequest is the body of /v1/send.
type SendRequest struct {
	Channel   string `json:"channel"`
	Text      string `json:"text"`
	TimeoutMS int64  `json:"timeout_ms"`
	NoWait    bool   `json:"no_wait"`  // answer once the message is queued
	ReplyTo   string `json:"reply_to"` // the message this one answers (its channel is used)
}

// ChatOpRequest is the body of /v1/edit, /v1/delete and /v1/react.
type ChatOpRequest struct {
	ID        string `json:"id"`
	Text      string `json:"text,omitempty"`
	Emoji     string `json:"emoji,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"` // how long to wait for the commit (default 10 s)
}

// DMRequest is the body of /v1/dm.
type DMRequest struct {
	To   []string `json:"to"`
	Text string   `json:"text"`
}

// MemberRequest is the body of /v1/members/remove and /v1/members/role.
type MemberRequest struct {
	Member string `json:"member"`
	Role   string `json:"role,omitempty"`
}

// InviteRequest is the body of /v1/invite.
type InviteRequest struct {
	TTLSeconds int64 `json:"ttl_s"` // 0: node.DefaultInviteTTL
}

// FileRequest is the body of /v1/attach and /v1/fetch.
type FileRequest struct {
	Channel string `json:"channel,omitempty"`
	Path    string `json:"path"`
	ID      string `json:"id,omitempty"`
}

// FileProgress lines stream from /v1/attach and /v1/fetch: progress, then
// one line with the outcome.
type FileProgress struct {
	Done  int64  `json:"done,omitempty"`
	Total int64  `json:"total,omitempty"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
	OK    bool   `json:"ok,omitempty"`
}

// APIError is the body of every answer that is not 200.
type APIError struct {
	Error string `json:"error"`
	ID    string `json:"id,omitempty"` // the message, when it is queued but not committed
}

// HistoryRow is one line of `concord history --json` (and search).
type HistoryRow struct {
	ID          string              `json:"id"`
	Channel     string              `json:"channel"`
	Seq         uint64              `json:"seq"`
	Author      string              `json:"author"`
	AuthorName  string              `json:"author_name"`
	Text        string              `json:"text"`
	SentAt      string              `json:"sent_at"`
	CommittedAt string              `json:"committed_at"`
	ReplyTo     string              `json:"reply_to,omitempty"`
	EditedAt    string              `json:"edited_at,omitempty"`
	Deleted     bool                `json:"deleted,omitempty"`
	Reactions   map[string][]string `json:"reactions,omitempty"` // emoji → member names
	Mentions    []string            `json:"mentions,omitempty"`  // IDs of the members it @mentions
	File        *storage.FileRef    `json:"file,omitempty"`      // the attachment: concord fetch ID
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// NewHistoryRow is m as a row; names maps member IDs to names.
func NewHistoryRow(m storage.Message, names map[string]string) HistoryRow {
	row := HistoryRow{ID: m.ID, Channel: m.Channel, Seq: m.Seq, Author: m.Author, AuthorName: names[m.Author],
		Text: m.Text, SentAt: stamp(m.SentAt), CommittedAt: stamp(m.CommittedAt),
		ReplyTo: m.ReplyTo, Deleted: m.Deleted, Mentions: node.Mentions(m.Text, names), File: m.File}
	if !m.EditedAt.IsZero() {
		row.EditedAt = stamp(m.EditedAt)
	}
	for emoji, ids := range m.Reactions {
		if row.Reactions == nil {
			row.Reactions = map[string][]string{}
		}
		for _, id := range ids {
			row.Reactions[emoji] = append(row.Reactions[emoji], cmp.Or(names[id], id))
		}
	}
	return row
}

// ChannelRow is one line of `concord channels --json`.
type ChannelRow struct {
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Messages  uint64 `json:"messages"`
}

// MemberRow is one line of `concord members --json`.
type MemberRow struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Voter  bool   `json:"voter"`
	Online bool   `json:"online"`
	// Release is the release the member runs, as last heard: "" unknown.
	Release string `json:"release"`
}

// OutboxRow is one line of `concord outbox --json`.
type OutboxRow struct {
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	State    string `json:"state"`
	Action   string `json:"action,omitempty"` // edit, delete or react: what it does to message Target
	Target   string `json:"target,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts"`
	QueuedAt string `json:"queued_at"`
}

// actionNames name the actions in `concord outbox`.
var actionNames = map[storage.OpKind]string{storage.OpEdit: "edit", storage.OpDelete: "delete", storage.OpReact: "react"}

// NewOutboxRow is e as a row.
func NewOutboxRow(e storage.OutboxEntry) OutboxRow {
	row := OutboxRow{ID: e.Envelope.ID, Channel: e.Envelope.Channel, Text: e.Envelope.Text,
		State: string(e.State), Reason: e.Reason, Attempts: e.Attempts, QueuedAt: stamp(e.QueuedAt)}
	if a := e.Envelope.Action; a != nil {
		row.Action, row.Target = actionNames[a.Kind], a.Target
	}
	return row
}

// Time is `concord time --json`.
type Time struct {
	Source   string  `json:"source"`
	Server   string  `json:"server"`
	OffsetMS float64 `json:"offset_ms"`
	RTTMS    float64 `json:"rtt_ms"`
	LastSync *string `json:"last_sync"`
	ErrorMS  float64 `json:"error_ms"`
	Err      string  `json:"err,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// NewTime is st as `concord time --json` shows it.
func NewTime(st timesync.TimeStatus) Time {
	out := Time{Source: st.Source, Server: st.Server, OffsetMS: ms(st.Offset), RTTMS: ms(st.RTT),
		ErrorMS: ms(st.ErrorBound), Err: strings.ReplaceAll(st.Err, "\n", "; ")}
	if !st.LastSync.IsZero() {
		s := stamp(st.LastSync)
		out.LastSync = &s
	}
	return out
}

// Status is `concord status --json`; fields owned by later work are null
// until it lands.
type Status struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Team   string `json:"team"`
	TeamID string `json:"team_id"`
	// Role is this member's role in the team, "admin" or "member", as in
	// members' rows; RaftState is its Raft state: leader, follower,
	// candidate, nonvoter or shutdown. (Earlier builds of 0.3.0 put the
	// Raft state in "role", which in members meant admin or member.)
	Role         string       `json:"role"`
	RaftState    string       `json:"raft_state"`
	Leader       string       `json:"leader"`
	Voters       []string     `json:"voters"`
	Nonvoters    []string     `json:"nonvoters"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Peers        []PeerStatus `json:"peers"`
	Outbox       *int         `json:"outbox"`
	Clock        ClockStatus  `json:"clock"`
	Storage      StorageState `json:"storage"`
	Disk         DiskStatus   `json:"disk"`
	// Consistency is whether this member's history matches its peers'.
	Consistency Consistency `json:"consistency"`
	Release     string      `json:"release"`      // this member's release
	TeamVersion int         `json:"team_version"` // the team version in its log
	// BlockedOnUpgrade is null, or the release this member needs to apply
	// the team's log further ("unknown" when the entry does not say).
	BlockedOnUpgrade *string `json:"blocked_on_upgrade"`
}

// TeamVersion is `concord team-version --json`.
type TeamVersion struct {
	TeamVersion int    `json:"team_version"`
	Release     string `json:"release"`
	ProtocolMin int    `json:"protocol_min"` // the team versions this release works in
	ProtocolMax int    `json:"protocol_max"`
	// Members says what each member runs, as last heard, and whether it
	// holds a raise back (a voter, or seen within the upgrade window, on
	// an older release or never heard from).
	Members []TeamVersionMember `json:"members"`
}

// TeamVersionMember is one member of TeamVersion.
type TeamVersionMember struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Release     string  `json:"release"`      // "" unknown or before 0.2.0
	ProtocolMax int     `json:"protocol_max"` // 0: never heard from
	LastSeen    *string `json:"last_seen"`
	HoldsBack   bool    `json:"holds_back"`
}

// NewTeamVersion is tv as `concord team-version --json` shows it.
func NewTeamVersion(tv node.TeamVersion) TeamVersion {
	out := TeamVersion{TeamVersion: tv.Team, Release: tv.Release, ProtocolMin: tv.ProtocolMin, ProtocolMax: tv.ProtocolMax,
		Members: []TeamVersionMember{}}
	for _, m := range tv.Members {
		row := TeamVersionMember{ID: m.ID, Name: m.Name, Release: m.Release.Release, ProtocolMax: m.Release.ProtocolMax, HoldsBack: m.HoldsBack}
		if !m.Release.Seen.IsZero() {
			s := stamp(m.Release.Seen)
			row.LastSeen = &s
		}
		out.Members = append(out.Members, row)
	}
	return out
}

// StorageState is node.StorageState: "ok", "write_failed" or "stalled",
// with a reason (null when ok) and the index applying stalled at.
type StorageState struct {
	State     string  `json:"state"`
	Reason    *string `json:"reason"`
	StalledAt *uint64 `json:"stalled_at"`
}

// PeerStatus is one of Status's peers.
type PeerStatus struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Healthy  bool    `json:"healthy"`
	LastSeen *string `json:"last_seen"`
}

// ClockStatus is Status's clock.
type ClockStatus struct {
	Source   string  `json:"source"`
	OffsetMS float64 `json:"offset_ms"`
}

// DiskStatus is the "disk" of `concord status --json`.
type DiskStatus struct {
	FreeBytes uint64 `json:"free_bytes"`
	State     string `json:"state"` // ok, low or full
}

// Consistency is status's "consistency": whether this member's history
// (its state digest chain) matches its peers'. State is "ok" (it agrees
// with most peers it compared with; a peer may still be "diverged"),
// "diverged" (it differs from most of them: this member is the odd one
// out) or "unknown" (nothing compared yet, e.g. chains that started at
// different indexes after an upgrade). The indexes are null when unknown.
type Consistency struct {
	State        string            `json:"state"`
	CheckedIndex *uint64           `json:"checked_index"`
	DivergedAt   *uint64           `json:"diverged_at"`
	Peers        []ConsistencyPeer `json:"peers"`
}

// ConsistencyPeer is one peer of Consistency.
type ConsistencyPeer struct {
	ID           string  `json:"id"`
	State        string  `json:"state"`
	CheckedIndex *uint64 `json:"checked_index"`
	DivergedAt   *uint64 `json:"diverged_at"`
	Reason       string  `json:"reason,omitempty"` // why unknown
}

func orNull[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// NewConsistency is c as status shows it.
func NewConsistency(c failover.Consistency) Consistency {
	out := Consistency{State: c.State, CheckedIndex: orNull(c.CheckedIndex),
		DivergedAt: orNull(c.DivergedAt), Peers: []ConsistencyPeer{}}
	for _, p := range c.Peers {
		out.Peers = append(out.Peers, ConsistencyPeer{ID: p.ID.String(), State: p.State,
			CheckedIndex: orNull(p.CheckedIndex), DivergedAt: orNull(p.DivergedAt), Reason: p.Reason})
	}
	return out
}

// NewStatus is st as `concord status --json` shows it.
func NewStatus(st node.Status) Status {
	out := Status{ID: st.ID, Name: st.Name, Team: st.Team, TeamID: st.TeamID, Role: st.TeamRole, RaftState: st.Role, Leader: st.Leader,
		Voters: st.Voters, Nonvoters: st.Nonvoters, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		Peers: []PeerStatus{}, Outbox: &st.Outbox,
		Clock:       ClockStatus{Source: st.Clock.Source, OffsetMS: ms(st.Clock.Offset)},
		Storage:     StorageState{State: st.Storage.State, Reason: orNull(st.Storage.Reason), StalledAt: orNull(st.Storage.StalledAt)},
		Disk:        DiskStatus{FreeBytes: st.Disk.Free, State: string(st.Disk.Level)},
		Consistency: NewConsistency(st.Consistency), Release: st.Release, TeamVersion: st.TeamVersion}
	if b := st.BlockedOnUpgrade; b != nil {
		need := cmp.Or(b.Release, "unknown")
		out.BlockedOnUpgrade = &need
	}
	for _, p := range st.Peers {
		ps := PeerStatus{ID: p.ID, Name: p.Name, Healthy: p.Healthy}
		if !p.LastSeen.IsZero() {
			ls := stamp(p.LastSeen)
			ps.LastSeen = &ls
		}
		out.Peers = append(out.Peers, ps)
	}
	return out
}
