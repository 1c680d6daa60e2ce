package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"concord/storage"
)

// ErrBadCommand is returned for a log entry or frame that does not decode.
var ErrBadCommand = errors.New("consensus: malformed command")

// commandVersion is the first byte of every command Concord puts in the Raft
// log. A member refuses versions it does not know rather than guessing;
// docs/protocol.md describes each version.
const commandVersion byte = 2

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
func encodeCommand(c command) ([]byte, error) {
	b := make([]byte, 0, 64+len(c.Ops)*320)
	b = append(b, commandVersion)
	b = storage.AppendTime(b, c.CommittedAt)
	b = appendOps(b, c.Ops)
	return b, nil
}

func appendOps(b []byte, ops []storage.Op) []byte {
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, op := range ops {
		if op.Kind == storage.OpMessage && op.Message.File != nil {
			b = append(b, byte(opFile))
			b = storage.AppendEnvelope(b, op.Message)
			b = storage.AppendString(b, op.Message.ReplyTo)
			b = storage.AppendFile(b, op.Message.File)
			continue
		}
		if op.Kind == storage.OpMessage && op.Message.ReplyTo != "" {
			b = append(b, byte(opReply))
			b = storage.AppendEnvelope(b, op.Message)
			b = storage.AppendString(b, op.Message.ReplyTo)
			continue
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
		}
	}
	return b
}

func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) == 0 {
		return c, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	if b[0] != commandVersion {
		return c, fmt.Errorf("%w: unknown version %d", ErrBadCommand, b[0])
	}
	r := storage.NewReader(b[1:])
	c.CommittedAt = r.Time()
	ops, err := readOps(r)
	if err != nil {
		return c, err
	}
	c.Ops = ops
	return c, nil
}

func readOps(r *storage.Reader) ([]storage.Op, error) {
	n := r.Uvarint()
	if r.Err() == nil && (n > maxOpsPerCommand || n > uint64(r.Len())) {
		return nil, fmt.Errorf("%w: %d ops", ErrBadCommand, n)
	}
	ops := make([]storage.Op, 0, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		op := storage.Op{Kind: storage.OpKind(r.Byte())}
		if op.Kind == opWithID {
			op.ID, op.Kind = r.String(), storage.OpKind(r.Byte())
			if r.Err() == nil && (op.ID == "" || !hasID(op.Kind)) {
				return nil, fmt.Errorf("%w: op %d: an ID on an op of kind %d", ErrBadCommand, i, op.Kind)
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
				return nil, fmt.Errorf("%w: op %d: reply without a parent", ErrBadCommand, i)
			}
		case storage.OpCreateChannel:
			op.By, op.Channel = r.String(), r.String()
			np := r.Uvarint()
			if np > 64 {
				return nil, fmt.Errorf("%w: op %d: %d participants", ErrBadCommand, i, np)
			}
			for j := uint64(0); j < np; j++ {
				op.Participants = append(op.Participants, r.String())
			}
		case storage.OpAddMember:
			op.By, op.Token = r.String(), r.String()
			m := storage.Member{ID: r.String(), Name: r.String(), Role: r.String()}
			na := r.Uvarint()
			if na > 64 {
				return nil, fmt.Errorf("%w: op %d: %d addresses", ErrBadCommand, i, na)
			}
			for j := uint64(0); j < na; j++ {
				m.Addrs = append(m.Addrs, r.String())
			}
			m.JoinedAt = r.Time()
			m.BoxKey = r.String()
			op.Member = &m
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
			switch r.Byte() {
			case 0:
			case 1:
				op.Remove = true
			default:
				if r.Err() == nil {
					return nil, fmt.Errorf("%w: op %d: bad remove flag", ErrBadCommand, i)
				}
			}
		default:
			if r.Err() == nil {
				return nil, fmt.Errorf("%w: op %d: unknown kind %d", ErrBadCommand, i, op.Kind)
			}
		}
		if r.Err() == nil {
			if err := checkOpShape(op); err != nil {
				return nil, fmt.Errorf("%w: op %d: %v", ErrBadCommand, i, err)
			}
		}
		ops = append(ops, op)
	}
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCommand, r.Err())
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadCommand, r.Len())
	}
	return ops, nil
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
	case storage.OpRemoveMember, storage.OpSetRole, storage.OpEdit, storage.OpDelete, storage.OpReact:
		if op.Target == "" {
			return errors.New("member op without target")
		}
	case storage.OpInvite:
		if op.Invite == nil {
			return errors.New("invite op without invite")
		}
	default:
		return fmt.Errorf("unknown op kind %d", op.Kind)
	}
	return nil
}
