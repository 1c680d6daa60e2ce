package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// The binary forms of envelopes and messages. They are used both on disk
// (message values) and in the Raft log (consensus's command encoding), so a
// message is encoded once by its author's leader and never goes through
// reflection. docs/protocol.md gives the layout:
//
//	string   = uvarint length, bytes (valid UTF-8)
//	time     = varint Unix nanoseconds, 0 for the zero time
//	envelope = string id, string author, string channel, string text, time sent_at
//	message  = envelope, uvarint seq, time committed_at, uvarint index,
//	           [uvarint flags, string reply_to if flags&1, time edited_at if flags&2,
//	            file if flags&8] (flags&4: deleted; no flags at all: 0)
//	file     = string name, varint size, string type, string hash

// ErrShortBuffer and ErrBadEncoding are returned by Reader for bytes that do
// not decode; they are wrapped by callers into their own sentinels.
var (
	ErrShortBuffer = errors.New("truncated")
	ErrBadEncoding = errors.New("bad encoding")
)

// maxString bounds any decoded string so a hostile length cannot make the
// reader allocate more than the frame it came in.
const maxString = 1 << 20

// AppendString appends s in the binary form.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendTime appends t as Unix nanoseconds (0 for the zero time).
func AppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// AppendEnvelope appends e in the binary form.
func AppendEnvelope(b []byte, e *Envelope) []byte {
	b = AppendString(b, e.ID)
	b = AppendString(b, e.Author)
	b = AppendString(b, e.Channel)
	b = AppendString(b, e.Text)
	return AppendTime(b, e.SentAt)
}

// Flags of a stored message's optional tail.
const (
	msgReply   = 1
	msgEdited  = 2
	msgDeleted = 4
	msgFile    = 8
	msgKnown   = msgReply | msgEdited | msgDeleted | msgFile
)

// AppendFile appends a file reference in the binary form.
func AppendFile(b []byte, f *FileRef) []byte {
	b = AppendString(b, f.Name)
	b = binary.AppendVarint(b, f.Size)
	b = AppendString(b, f.Type)
	return AppendString(b, f.Hash)
}

// File reads a file reference.
func (r *Reader) File() *FileRef {
	return &FileRef{Name: r.String(), Size: r.Varint(), Type: r.String(), Hash: r.String()}
}

// AppendMessage appends m in the binary form.
func AppendMessage(b []byte, m *Message) []byte {
	b = AppendEnvelope(b, &m.Envelope)
	b = binary.AppendUvarint(b, m.Seq)
	b = AppendTime(b, m.CommittedAt)
	b = binary.AppendUvarint(b, m.Index)
	var flags uint64
	if m.ReplyTo != "" {
		flags |= msgReply
	}
	if !m.EditedAt.IsZero() {
		flags |= msgEdited
	}
	if m.Deleted {
		flags |= msgDeleted
	}
	if m.File != nil {
		flags |= msgFile
	}
	if flags == 0 {
		return b
	}
	b = binary.AppendUvarint(b, flags)
	if m.ReplyTo != "" {
		b = AppendString(b, m.ReplyTo)
	}
	if !m.EditedAt.IsZero() {
		b = AppendTime(b, m.EditedAt)
	}
	if m.File != nil {
		b = AppendFile(b, m.File)
	}
	return b
}

// messageSize is an upper bound of m's binary size, so it is encoded with
// one allocation.
func messageSize(m *Message) int {
	n := len(m.ID) + len(m.Author) + len(m.Channel) + len(m.Text) + len(m.ReplyTo) + 10*binary.MaxVarintLen64
	if f := m.File; f != nil {
		n += len(f.Name) + len(f.Type) + len(f.Hash) + 4*binary.MaxVarintLen64
	}
	return n
}

// Reader decodes the binary form. The first error sticks: callers read a
// whole record and check Err once.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads from b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first decoding error, if any.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not yet read.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.fail(ErrShortBuffer)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(fmt.Errorf("%w: varint", ErrBadEncoding))
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(fmt.Errorf("%w: varint", ErrBadEncoding))
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads what AppendString wrote, as bytes that need not be UTF-8 (a
// signature); the result aliases the buffer.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > maxString || n > uint64(len(r.b)) {
		r.fail(fmt.Errorf("%w: string of %d bytes", ErrShortBuffer, n))
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// String reads a string.
func (r *Reader) String() string {
	b := r.Bytes()
	if r.err != nil {
		return ""
	}
	s := string(b)
	if !utf8.ValidString(s) {
		r.fail(fmt.Errorf("%w: string is not UTF-8", ErrBadEncoding))
		return ""
	}
	return s
}

// Time reads a time (UTC).
func (r *Reader) Time() time.Time {
	ns := r.Varint()
	if ns == 0 || r.err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Envelope reads an envelope.
func (r *Reader) Envelope() Envelope {
	return Envelope{ID: r.String(), Author: r.String(), Channel: r.String(), Text: r.String(), SentAt: r.Time()}
}

// Message reads a message, with its optional tail when bytes remain.
func (r *Reader) Message() Message {
	m := Message{Envelope: r.Envelope(), Seq: r.Uvarint(), CommittedAt: r.Time(), Index: r.Uvarint()}
	if r.err != nil || len(r.b) == 0 {
		return m
	}
	flags := r.Uvarint()
	if flags&^msgKnown != 0 {
		r.fail(fmt.Errorf("%w: message flags %#x", ErrBadEncoding, flags))
		return m
	}
	if flags&msgReply != 0 {
		m.ReplyTo = r.String()
	}
	if flags&msgEdited != 0 {
		m.EditedAt = r.Time()
	}
	m.Deleted = flags&msgDeleted != 0
	if flags&msgFile != 0 {
		m.File = r.File()
	}
	return m
}

// decodeMessage decodes a stored message value; only this package writes
// them, so a failure means a damaged file.
func decodeMessage(b []byte) (Message, error) {
	r := NewReader(b)
	m := r.Message()
	if r.Err() == nil && r.Len() != 0 {
		return m, fmt.Errorf("%w: message has %d trailing bytes", ErrCorrupt, r.Len())
	}
	if r.Err() != nil {
		return m, fmt.Errorf("%w: message: %v", ErrCorrupt, r.Err())
	}
	return m, nil
}
