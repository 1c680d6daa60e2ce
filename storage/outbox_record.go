package storage

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// The outbox record, in the binary form of binary.go:
//
//	record = byte version (1), byte state (1 queued, 2 sent, 3 failed),
//	         uvarint attempts, string reason, time queued_at, time sent_at,
//	         uvarint index, envelope
//	envelope = envelope (binary.go), string reply_to, byte 0 | byte 1 file,
//	           byte 0 | byte kind (7 edit, 8 delete, 9 react) string target
//	           byte remove (0 or 1)
//
// The Seq is the key, not part of the record. The mutable fields come first
// so a state change rewrites the header and copies the envelope bytes as
// they are.
const outboxRecordVersion = 4

// Older records are read as version 4: version 1 (before replies) lacks
// the reply link, the file flag and the action flag, version 2 (before
// files) the two flags, version 3 (before edits went through the outbox)
// the action flag.
const (
	outboxRecordV1 = 1
	outboxRecordV2 = 2
	outboxRecordV3 = 3
)

// Record codes of the states; on disk, never renumber.
const (
	outboxCodeQueued byte = 1
	outboxCodeSent   byte = 2
	outboxCodeFailed byte = 3
)

func (s OutboxState) code() (byte, bool) {
	switch s {
	case OutboxQueued:
		return outboxCodeQueued, true
	case OutboxSent:
		return outboxCodeSent, true
	case OutboxFailed:
		return outboxCodeFailed, true
	}
	return 0, false
}

func outboxStateOf(c byte) (OutboxState, bool) {
	switch c {
	case outboxCodeQueued:
		return OutboxQueued, true
	case outboxCodeSent:
		return OutboxSent, true
	case outboxCodeFailed:
		return OutboxFailed, true
	}
	return "", false
}

// outboxHeaderSize is an upper bound of the header's binary size.
func outboxHeaderSize(e *OutboxEntry) int {
	return 2 + len(e.Reason) + 5*binary.MaxVarintLen64
}

// outboxRecordSize is an upper bound of a whole record's binary size.
func outboxRecordSize(e *OutboxEntry, env *Envelope) int {
	return outboxHeaderSize(e) + len(env.ID) + len(env.Author) + len(env.Channel) + len(env.Text) +
		len(env.ReplyTo) + 7*binary.MaxVarintLen64 + fileSize(env.File) + actionSize(env.Action)
}

func actionSize(a *Action) int {
	if a == nil {
		return 1
	}
	return 3 + len(a.Target) + binary.MaxVarintLen64
}

func fileSize(f *FileRef) int {
	if f == nil {
		return 0
	}
	return len(f.Name) + len(f.Type) + len(f.Hash) + 4*binary.MaxVarintLen64
}

// appendOutboxEnvelope appends the envelope that ends a record: the
// envelope's binary form, its ReplyTo ("" for none), then a byte 0, or 1
// and the attached file, then a byte 0, or the action.
func appendOutboxEnvelope(b []byte, env *Envelope) []byte {
	b = AppendString(AppendEnvelope(b, env), env.ReplyTo)
	if env.File == nil {
		b = append(b, 0)
	} else {
		b = AppendFile(append(b, 1), env.File)
	}
	a := env.Action
	if a == nil {
		return append(b, 0)
	}
	return append(AppendString(append(b, byte(a.Kind)), a.Target), boolByte(a.Remove))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// readOutboxAction reads what appendOutboxEnvelope wrote after the file.
func readOutboxAction(r *Reader, seq uint64) (*Action, error) {
	k := OpKind(r.Byte())
	switch {
	case r.Err() != nil || k == 0:
		return nil, nil
	case k != OpEdit && k != OpDelete && k != OpReact:
		return nil, fmt.Errorf("%w: outbox entry %d: action kind %d", ErrCorrupt, seq, k)
	}
	a := &Action{Kind: k, Target: r.String()}
	switch r.Byte() {
	case 0:
	case 1:
		a.Remove = true
	default:
		if r.Err() == nil {
			return nil, fmt.Errorf("%w: outbox entry %d: bad remove flag", ErrCorrupt, seq)
		}
	}
	return a, nil
}

// appendOutboxHeader appends the record fields of e that precede the
// envelope. An invalid state is written as queued; callers only use the
// constants.
func appendOutboxHeader(b []byte, e *OutboxEntry) []byte {
	code, ok := e.State.code()
	if !ok {
		code = outboxCodeQueued
	}
	b = append(b, outboxRecordVersion, code)
	b = binary.AppendUvarint(b, uint64(max(e.Attempts, 0)))
	b = AppendString(b, e.Reason)
	b = AppendTime(b, e.QueuedAt)
	b = AppendTime(b, e.SentAt)
	return binary.AppendUvarint(b, e.Index)
}

// outboxRecordState reads just the state of a record, for scans that skip
// most entries.
func outboxRecordState(b []byte) (OutboxState, error) {
	if len(b) < 2 {
		return "", fmt.Errorf("%w: outbox record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] < outboxRecordV1 || b[0] > outboxRecordVersion {
		return "", fmt.Errorf("%w: outbox record version %d", ErrCorrupt, b[0])
	}
	s, ok := outboxStateOf(b[1])
	if !ok {
		return "", fmt.Errorf("%w: outbox record state %d", ErrCorrupt, b[1])
	}
	return s, nil
}

// splitOutboxRecord decodes the header of a record into an entry (without
// its envelope) and returns the envelope bytes that follow, aliasing b.
func splitOutboxRecord(seq uint64, b []byte) (OutboxEntry, []byte, error) {
	s, err := outboxRecordState(b)
	if err != nil {
		return OutboxEntry{}, nil, fmt.Errorf("entry %d: %w", seq, err)
	}
	r := NewReader(b[2:])
	attempts := r.Uvarint()
	e := OutboxEntry{Seq: seq, State: s, Reason: r.String(), QueuedAt: r.Time(), SentAt: r.Time(), Index: r.Uvarint()}
	if r.Err() != nil {
		return OutboxEntry{}, nil, fmt.Errorf("%w: outbox entry %d: %v", ErrCorrupt, seq, r.Err())
	}
	if attempts > maxAttempts {
		return OutboxEntry{}, nil, fmt.Errorf("%w: outbox entry %d: %d attempts", ErrCorrupt, seq, attempts)
	}
	e.Attempts = int(attempts)
	env := b[len(b)-r.Len():]
	switch b[0] {
	case outboxRecordV1:
		env = append(slices.Clip(env), 0, 0, 0) // no reply link, no file, no action
	case outboxRecordV2:
		env = append(slices.Clip(env), 0, 0) // no file, no action
	case outboxRecordV3:
		env = append(slices.Clip(env), 0) // no action
	}
	return e, env, nil
}

// decodeOutboxRecord decodes a whole stored record; only this package writes
// them, so a failure means a damaged file (ErrCorrupt).
func decodeOutboxRecord(seq uint64, b []byte) (OutboxEntry, error) {
	e, env, err := splitOutboxRecord(seq, b)
	if err != nil {
		return OutboxEntry{}, err
	}
	r := NewReader(env)
	e.Envelope = r.Envelope()
	e.Envelope.ReplyTo = r.String()
	switch r.Byte() {
	case 0:
	case 1:
		e.Envelope.File = r.File()
	default:
		if r.Err() == nil {
			return OutboxEntry{}, fmt.Errorf("%w: outbox entry %d: bad file flag", ErrCorrupt, seq)
		}
	}
	a, err := readOutboxAction(r, seq)
	if err != nil {
		return OutboxEntry{}, err
	}
	e.Envelope.Action = a
	if r.Err() != nil {
		return OutboxEntry{}, fmt.Errorf("%w: outbox entry %d: envelope: %v", ErrCorrupt, seq, r.Err())
	}
	if r.Len() != 0 {
		return OutboxEntry{}, fmt.Errorf("%w: outbox entry %d has %d trailing bytes", ErrCorrupt, seq, r.Len())
	}
	return e, nil
}
