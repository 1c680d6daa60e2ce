package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"concord/storage"
	"concord/version"
)

// ErrBadCommand is returned for a log entry or frame that does not decode.
var ErrBadCommand = errors.New("consensus: malformed command")

// The first byte of every command Concord puts in the Raft log is its
// version; docs/protocol.md describes each. Version 2 is what a team at
// team version 1 writes (every release reads it). From version 3 on a
// command starts with a header that every later version keeps: the first
// release that reads it and the replicated protocol it needs, so that a
// member too old to read it can say which release the team needs, and
// stops there instead of skipping it (a skipped entry is a history that
// differs from the team's).
const (
	commandVersion   byte = 2
	commandVersionV3 byte = 3
)

// NeedsUpgradeError is a committed entry this member is too old to read:
// it stops applying there until it is upgraded.
type NeedsUpgradeError struct {
	Release  string // the first release that reads it ("": not said)
	Protocol int    // the protocol it needs (0: not said)
}

func (e *NeedsUpgradeError) Error() string { return version.NeedsUpgrade(e.Release) }

// opSetTeamVersion is the wire kind of storage.OpSetTeamVersion.
const opSetTeamVersion = storage.OpSetTeamVersion

// ErrTeamVersion is returned for an op the team version does not allow
// yet: the team has members whose release cannot read it.
var ErrTeamVersion = errors.New("the team version does not allow this yet")

// needs is the protocol an op kind needs.
func needs(k storage.OpKind) int {
	switch k {
	case storage.OpSetTeamVersion:
		return 2
	case storage.OpPin:
		return 3
	}
	return 1
}

// opReply is the wire kind of a message with a parent; in memory it is an
// OpMessage whose envelope has ReplyTo.
const opReply storage.OpKind = 10

// opFile is the wire kind of a message with an attachment (and maybe a
// parent); in memory an OpMessage whose envelope has File.
const opFile storage.OpKind = 11

// opWithID is the wire prefix of an edit, deletion or reaction that has
// an ID (storage.Op.ID, which the FSM deduplicates): the ID, then the op
// as it is encoded without one.
const opWithID storage.OpKind = 12

// hasID says which kinds may carry an ID on the wire.
func hasID(k storage.OpKind) bool {
	return k == storage.OpEdit || k == storage.OpDelete || k == storage.OpReact
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// maxOpsPerCommand bounds what a decoder will allocate for one entry.
const maxOpsPerCommand = 1 << 16

// command is the body of one Raft log entry: a batch of operations (group
// commit) and the commit time the leader stamped on it.
type command struct {
	CommittedAt time.Time
	Ops         []storage.Op
}

// encodeCommand gives the binary form (docs/protocol.md):
//
//	command = version 0x02, time committed_at, uvarint n, op × n
//	op      = kind byte, then by kind:
//	          1 message: envelope
//	          2 create channel: string by, string name, uvarint n, string participant × n
//	          3 add member: string by, string token, string id, string name,
//	            string role, uvarint n, string addr × n, time joined_at, string box_key
//	          4 remove member: string by, string target
//	          5 set role: string by, string target, string role
//	          6 invite: string by, string id, string key, time expires
//	          7 edit: string by, string target, string text
//	          8 delete: string by, string target
//	          9 react: string by, string target, string emoji, byte remove (0 or 1)
//	          10 reply: envelope, string reply_to (a message answering another)
//	          11 file: envelope, string reply_to ("": none), file (a message with an attachment)
//	          12 op with ID: string id, then an op of kind 7, 8 or 9 (kind byte and payload)
//	          13 set team version: string by, uvarint version (protocol 2; command version 3)
//	          14 pin: string by, string target, byte unpin (0 or 1) (protocol 3)
//
// A team at team version 1 gets version 2 commands; from team version 2 on,
// version 3: 0x03, string release, uvarint protocol, then as version 2.
// teamVersion is the team version the command is written for; an op that
// needs more (a raise) makes the command say so.
func encodeCommand(c command, teamVersion int) ([]byte, error) {
	proto, err := commandProto(teamVersion, c.Ops)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(c.Ops)*320)
	if proto == 1 {
		b = append(b, commandVersion)
	} else {
		b = append(b, commandVersionV3)
		b = storage.AppendString(b, version.ReleaseFor(proto))
		b = binary.AppendUvarint(b, uint64(proto))
	}
	b = storage.AppendTime(b, c.CommittedAt)
	if proto >= SignProtocol {
		return appendGroups(b, c.Ops), nil
	}
	return appendOps(b, c.Ops), nil
}

// commandProto is the protocol a command carrying ops is written in at
// team version teamVersion: the team version, or the one a raise in it
// sets.
func commandProto(teamVersion int, ops []storage.Op) (int, error) {
	proto := max(teamVersion, 1)
	for _, op := range ops {
		if op.Kind == storage.OpSetTeamVersion {
			if op.Version < 2 || op.Version > version.Protocol {
				return 0, fmt.Errorf("%w: team version %d: this release writes 2 to %d", ErrBadCommand, op.Version, version.Protocol)
			}
			proto = max(proto, op.Version)
		}
	}
	for _, op := range ops {
		if n := needs(op.Kind); n > proto {
			return 0, fmt.Errorf("%w: it needs team version %d (Concord %s on every member); the team is at %d",
				ErrTeamVersion, n, version.ReleaseFor(n), proto)
		}
	}
	if proto > version.Protocol {
		return 0, fmt.Errorf("%w: the team version is %d, this release writes at most %d", ErrBadCommand, proto, version.Protocol)
	}
	return proto, nil
}

func appendOps(b []byte, ops []storage.Op) []byte {
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, op := range ops {
		b = appendOp(b, op, false)
	}
	return b
}

// appendOp appends one op: its kind and payload (after an ID prefix for an
// edit, deletion or reaction with an ID). signed is the canonical form of
// protocol 4, in which an admission carries its invite proof.
func appendOp(b []byte, op storage.Op, signed bool) []byte {
	if op.Kind == storage.OpMessage && op.Message.File != nil {
		b = append(b, byte(opFile))
		b = storage.AppendEnvelope(b, op.Message)
		b = storage.AppendString(b, op.Message.ReplyTo)
		return storage.AppendFile(b, op.Message.File)
	}
	if op.Kind == storage.OpMessage && op.Message.ReplyTo != "" {
		b = append(b, byte(opReply))
		b = storage.AppendEnvelope(b, op.Message)
		return storage.AppendString(b, op.Message.ReplyTo)
	}
	if op.ID != "" && hasID(op.Kind) {
		b = storage.AppendString(append(b, byte(opWithID)), op.ID)
	}
	b = append(b, byte(op.Kind))
	switch op.Kind {
	case storage.OpMessage:
		b = storage.AppendEnvelope(b, op.Message)
	case storage.OpCreateChannel:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Channel)
		b = binary.AppendUvarint(b, uint64(len(op.Participants)))
		for _, p := range op.Participants {
			b = storage.AppendString(b, p)
		}
	case storage.OpAddMember:
		m := op.Member
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Token)
		b = storage.AppendString(b, m.ID)
		b = storage.AppendString(b, m.Name)
		b = storage.AppendString(b, m.Role)
		b = binary.AppendUvarint(b, uint64(len(m.Addrs)))
		for _, a := range m.Addrs {
			b = storage.AppendString(b, a)
		}
		b = storage.AppendTime(b, m.JoinedAt)
		b = storage.AppendString(b, m.BoxKey)
		if signed {
			b = storage.AppendString(b, op.Invitee)
			b = storage.AppendString(b, string(op.Admission))
		}
	case storage.OpRemoveMember:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Target)
	case storage.OpSetRole:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Target)
		b = storage.AppendString(b, op.Role)
	case storage.OpInvite:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Invite.ID)
		b = storage.AppendString(b, op.Invite.Key)
		b = storage.AppendTime(b, op.Invite.Expires)
	case storage.OpEdit:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Target)
		b = storage.AppendString(b, op.Text)
	case storage.OpDelete:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Target)
	case storage.OpReact:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Target)
		b = storage.AppendString(b, op.Text)
		b = append(b, boolByte(op.Remove))
	case opSetTeamVersion:
		b = storage.AppendString(b, op.By)
		b = binary.AppendUvarint(b, uint64(op.Version))
	case storage.OpPin:
		b = storage.AppendString(b, op.By)
		b = storage.AppendString(b, op.Target)
		b = append(b, boolByte(op.Remove))
	}
	return b
}

func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) == 0 {
		return c, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	r := storage.NewReader(b[1:])
	proto := 1
	switch {
	case b[0] == commandVersion:
	case b[0] >= commandVersionV3:
		release, p := r.String(), r.Uvarint()
		if r.Err() != nil || p > 1<<16 {
			if b[0] > commandVersionV3 {
				return c, &NeedsUpgradeError{}
			}
			return c, fmt.Errorf("%w: version 3 header", ErrBadCommand)
		}
		if b[0] > commandVersionV3 || p > version.Protocol {
			return c, &NeedsUpgradeError{Release: release, Protocol: int(p)}
		}
		proto = int(p)
	default:
		return c, fmt.Errorf("%w: unknown version %d", ErrBadCommand, b[0])
	}
	c.CommittedAt = r.Time()
	read := readOps
	if proto >= SignProtocol {
		read = func(r *storage.Reader, proto int) ([]storage.Op, error) { return readGroups(r, b[1:], proto) }
	}
	ops, err := read(r, proto)
	if err != nil {
		return c, err
	}
	c.Ops = ops
	return c, nil
}

func readOps(r *storage.Reader, proto int) ([]storage.Op, error) {
	n := r.Uvarint()
	if r.Err() == nil && (n > maxOpsPerCommand || n > uint64(r.Len())) {
		return nil, fmt.Errorf("%w: %d ops", ErrBadCommand, n)
	}
	ops := make([]storage.Op, 0, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		op, err := readOp(r, proto, i)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, readEnd(r)
}

// readEnd checks that r was read to its end without an error.
func readEnd(r *storage.Reader) error {
	if r.Err() != nil {
		return fmt.Errorf("%w: %v", ErrBadCommand, r.Err())
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadCommand, r.Len())
	}
	return nil
}

// readOp reads op i (appendOp's form). A reader past its end reports that
// itself, through r.Err.
func readOp(r *storage.Reader, proto int, i uint64) (storage.Op, error) {
	op := storage.Op{Kind: storage.OpKind(r.Byte())}
	if op.Kind == opWithID {
		op.ID, op.Kind = r.String(), storage.OpKind(r.Byte())
		if r.Err() == nil && (op.ID == "" || !hasID(op.Kind)) {
			return op, fmt.Errorf("%w: op %d: an ID on an op of kind %d", ErrBadCommand, i, op.Kind)
		}
	}
	switch op.Kind {
	case storage.OpMessage:
		e := r.Envelope()
		op.Message = &e
	case opFile:
		e := r.Envelope()
		e.ReplyTo = r.String()
		e.File = r.File()
		op.Kind, op.Message = storage.OpMessage, &e
	case opReply:
		e := r.Envelope()
		e.ReplyTo = r.String()
		op.Kind, op.Message = storage.OpMessage, &e
		if r.Err() == nil && e.ReplyTo == "" {
			return op, fmt.Errorf("%w: op %d: reply without a parent", ErrBadCommand, i)
		}
	case storage.OpCreateChannel:
		op.By, op.Channel = r.String(), r.String()
		np := r.Uvarint()
		if np > 64 {
			return op, fmt.Errorf("%w: op %d: %d participants", ErrBadCommand, i, np)
		}
		for j := uint64(0); j < np; j++ {
			op.Participants = append(op.Participants, r.String())
		}
	case storage.OpAddMember:
		op.By, op.Token = r.String(), r.String()
		m := storage.Member{ID: r.String(), Name: r.String(), Role: r.String()}
		na := r.Uvarint()
		if na > 64 {
			return op, fmt.Errorf("%w: op %d: %d addresses", ErrBadCommand, i, na)
		}
		for j := uint64(0); j < na; j++ {
			m.Addrs = append(m.Addrs, r.String())
		}
		m.JoinedAt = r.Time()
		m.BoxKey = r.String()
		op.Member = &m
		if proto >= SignProtocol {
			op.Invitee, op.Admission = r.String(), r.Bytes()
		}
	case storage.OpRemoveMember:
		op.By, op.Target = r.String(), r.String()
	case storage.OpSetRole:
		op.By, op.Target, op.Role = r.String(), r.String(), r.String()
	case storage.OpInvite:
		op.By = r.String()
		op.Invite = &storage.Invite{ID: r.String(), Key: r.String(), Expires: r.Time()}
	case storage.OpEdit:
		op.By, op.Target, op.Text = r.String(), r.String(), r.String()
	case storage.OpDelete:
		op.By, op.Target = r.String(), r.String()
	case storage.OpReact:
		op.By, op.Target, op.Text = r.String(), r.String(), r.String()
		remove, err := readFlag(r, i, "remove")
		if err != nil {
			return op, err
		}
		op.Remove = remove
	case opSetTeamVersion:
		if proto < 2 {
			return op, fmt.Errorf("%w: op %d: a team version raise in a version 2 command", ErrBadCommand, i)
		}
		op.By, op.Version = r.String(), int(min(r.Uvarint(), 1<<16))
	case storage.OpPin:
		if proto < 3 {
			return op, fmt.Errorf("%w: op %d: a pin below protocol 3", ErrBadCommand, i)
		}
		op.By, op.Target = r.String(), r.String()
		remove, err := readFlag(r, i, "unpin")
		if err != nil {
			return op, err
		}
		op.Remove = remove
	default:
		if r.Err() == nil {
			return op, fmt.Errorf("%w: op %d: unknown kind %d", ErrBadCommand, i, op.Kind)
		}
	}
	if r.Err() == nil {
		if err := checkOpShape(op); err != nil {
			return op, fmt.Errorf("%w: op %d: %v", ErrBadCommand, i, err)
		}
	}
	return op, nil
}

// checkOpShape verifies an op carries the payload its kind needs. The values
// themselves are checked by storage, deterministically, when applied.
func checkOpShape(op storage.Op) error {
	switch op.Kind {
	case storage.OpMessage:
		if op.Message == nil {
			return errors.New("message op without message")
		}
	case storage.OpCreateChannel:
		if op.Channel == "" {
			return errors.New("channel op without name")
		}
	case storage.OpAddMember:
		if op.Member == nil || op.Member.ID == "" {
			return errors.New("member op without member")
		}
	case storage.OpRemoveMember, storage.OpSetRole, storage.OpEdit, storage.OpDelete, storage.OpReact, storage.OpPin:
		if op.Target == "" {
			return errors.New("member op without target")
		}
	case storage.OpInvite:
		if op.Invite == nil {
			return errors.New("invite op without invite")
		}
	case storage.OpSetTeamVersion:
		if op.Version < 2 {
			return fmt.Errorf("team version %d", op.Version)
		}
	default:
		return fmt.Errorf("unknown op kind %d", op.Kind)
	}
	return nil
}

// readFlag reads op i's one-byte flag (0 or 1; boolByte writes it). A
// reader already past its end reports that itself.
func readFlag(r *storage.Reader, i uint64, what string) (bool, error) {
	switch b := r.Byte(); {
	case b <= 1:
		return b == 1, nil
	case r.Err() != nil:
		return false, nil
	}
	return false, fmt.Errorf("%w: op %d: bad %s flag", ErrBadCommand, i, what)
}
