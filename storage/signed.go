package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Refusals consensus puts in Op.Refused when it checks an entry's
// signatures (protocol 4). Every member decides them alike: they depend on
// the entry and the team ID only.
const (
	RefusedUnsigned     = "it is not signed, and the team signs its ops"
	RefusedBadSignature = "its signature does not verify"
	RefusedNotSigner    = "it is not signed by its author"
	RefusedNoID         = "a signed op without an ID"
	RefusedAdmission    = "the invite's key did not sign this admission"
)

// SignedTeamVersion is the team version from which every op must be
// signed: Apply refuses an op without a signature once the team version
// it has applied is this or more, so a leader cannot slip unsigned ops in
// by writing an older command version.
const SignedTeamVersion = 4

// bucketSigned keeps the signed history (protocol 4; the first signed op
// creates it, older files have none). Keys grow with the log, so writing
// them appends:
//
//	"g" + 8-byte index + 4-byte position of the group's first op in the entry
//	    → string signer, string signature, uvarint n, SHA-256 × n
//	"o" + 8-byte index + 4-byte position → an op that took effect:
//	    'M' + message ID for a message (its canonical form is rebuilt from
//	    the stored message while it is neither edited nor deleted), or
//	    'C' + the op's canonical form for any other op
//	"e" + uvarint length + message ID + 8-byte index + 4-byte position
//	    → empty: an edit of that message, whose record a deletion drops
//
// Deleting or editing a message thus drops its text from the signed
// history; the group records keep its hash.
var bucketSigned = []byte("signed")

// keepSigned records op j of entry e, as applied with result res, in the
// signed history. It is called for every op in order (signed or not).
func (a *applier) keepSigned(e Entry, j int, op Op, res Result) error {
	if op.Kind == OpDelete && res.Err == "" && !res.Dup {
		if err := a.redact(op.Target); err != nil {
			return err
		}
	}
	if op.Sig == nil {
		return nil
	}
	if j == 0 || e.Ops[j-1].Sig != op.Sig {
		if op.Refused != RefusedBadSignature {
			if err := a.putSigned(opKey('g', e.Index, j), encodeGroup(op.Sig)); err != nil {
				return err
			}
		}
	}
	if op.Refused != "" || res.Err != "" || res.Dup {
		return nil
	}
	k := opKey('o', e.Index, j)
	switch op.Kind {
	case OpMessage:
		return a.putSigned(k, append([]byte{'M'}, op.Message.ID...))
	case OpEdit:
		// Only the latest text is kept, as in the message itself.
		if err := a.redact(op.Target); err != nil {
			return err
		}
		if err := a.putSigned(append(editPrefix(op.Target), k[1:]...), nil); err != nil {
			return err
		}
	}
	return a.putSigned(k, append([]byte{'C'}, op.Canon...))
}

func opKey(kind byte, index uint64, pos int) []byte {
	k := binary.BigEndian.AppendUint64([]byte{kind}, index)
	return binary.BigEndian.AppendUint32(k, uint32(pos))
}

func editPrefix(msg string) []byte {
	return append(binary.AppendUvarint([]byte{'e'}, uint64(len(msg))), msg...)
}

func encodeGroup(g *SignedGroup) []byte {
	b := AppendString(nil, g.Signer)
	b = AppendString(b, string(g.Sig))
	b = binary.AppendUvarint(b, uint64(len(g.Hashes)))
	for _, h := range g.Hashes {
		b = append(b, h...)
	}
	return b
}

func decodeGroup(v []byte) (SignedGroup, error) {
	r := NewReader(v)
	g := SignedGroup{Signer: r.String(), Sig: r.Bytes()}
	n := r.Uvarint()
	if r.Err() != nil || n*sha256.Size != uint64(r.Len()) {
		return g, fmt.Errorf("%w: signed group record", ErrCorrupt)
	}
	rest := v[len(v)-r.Len():]
	for i := range int(n) {
		g.Hashes = append(g.Hashes, rest[i*sha256.Size:(i+1)*sha256.Size])
	}
	return g, nil
}

func (a *applier) signedBucket() (bucket, error) {
	if a.signed.b == nil {
		b, err := a.tx.CreateBucketIfNotExists(bucketSigned)
		if err != nil {
			return bucket{}, err
		}
		b.FillPercent = 0.95 // keys only grow (but for edits')
		a.signed = newBucket(b, string(bucketSigned))
	}
	return a.signed, nil
}

func (a *applier) putSigned(k, v []byte) error {
	b, err := a.signedBucket()
	if err != nil {
		return err
	}
	return b.put(k, v[:len(v):len(v)]) // v may alias a log entry: never seal into its spare capacity
}

// redact drops the records of message msg's edits (their text); the
// message's own record holds no text, and rebuilding its canonical form
// stops once the message is edited or deleted.
func (a *applier) redact(msg string) error {
	b := a.tx.Bucket(bucketSigned)
	if b == nil {
		return nil
	}
	prefix := editPrefix(msg)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if len(k) != len(prefix)+12 {
			return fmt.Errorf("%w: signed edit key %x", ErrCorrupt, k)
		}
		if err := errors.Join(b.Delete(append([]byte{'o'}, k[len(prefix):]...)), b.Delete(k)); err != nil {
			return err
		}
	}
	return nil
}

// SignedRecord is one signed group of the history: the entry that carried
// it, the signature, and what the store kept of each op.
type SignedRecord struct {
	Index uint64
	Pos   int // the group's first op in the entry
	Group SignedGroup
	Ops   []SignedOp // one per hash
}

// SignedOp is what the store kept of one op of a signed group: its
// canonical form, or the message it carried (whose canonical form the
// checker rebuilds), or neither (refused, a duplicate, or a message
// edited or deleted since).
type SignedOp struct {
	Canon   []byte
	Message *Envelope
}

// Kept reports whether anything of the op is kept.
func (o SignedOp) Kept() bool { return o.Canon != nil || o.Message != nil }

// WalkSigned calls fn for every signed group, in log order.
func (s *Store) WalkSigned(fn func(SignedRecord) error) error {
	return s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSigned)
		if b == nil {
			return nil
		}
		sb := newBucket(b, string(bucketSigned))
		ids, err := topBucket(tx, bucketIDs)
		if err != nil {
			return err
		}
		messages, err := topBucket(tx, bucketMessages)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte{'g'}); k != nil && k[0] == 'g'; k, v = c.Next() {
			if len(k) != 13 {
				return fmt.Errorf("%w: signed group key %x", ErrCorrupt, k)
			}
			raw, err := sb.open(k, v)
			if err != nil {
				return err
			}
			g, err := decodeGroup(raw)
			if err != nil {
				return err
			}
			rec := SignedRecord{Index: binary.BigEndian.Uint64(k[1:9]), Pos: int(binary.BigEndian.Uint32(k[9:])), Group: g}
			for i := range g.Hashes {
				op, err := keptOp(sb, ids, messages, opKey('o', rec.Index, rec.Pos+i))
				if err != nil {
					return err
				}
				rec.Ops = append(rec.Ops, op)
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

func keptOp(sb, ids, messages bucket, k []byte) (SignedOp, error) {
	v, err := sb.get(k)
	switch {
	case err != nil || v == nil:
		return SignedOp{}, err
	case v[0] == 'C':
		return SignedOp{Canon: v[1:]}, nil
	case v[0] != 'M':
		return SignedOp{}, fmt.Errorf("%w: signed op record %x", ErrCorrupt, k)
	}
	iv, err := ids.get(v[1:])
	if err != nil || iv == nil {
		return SignedOp{}, err
	}
	name, seq, err := decodeIDValue(iv)
	if err != nil {
		return SignedOp{}, err
	}
	m, err := getMessage(messages, name, seq)
	if err != nil || m.Deleted || !m.EditedAt.IsZero() {
		return SignedOp{}, err
	}
	return SignedOp{Message: &m.Envelope}, nil
}

// SignedMessages counts the stored messages and those a signed op
// carried (the others were committed before the team signed its ops).
func (s *Store) SignedMessages() (total, signed int, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		ids, err := topBucket(tx, bucketIDs)
		if err != nil {
			return err
		}
		total = ids.b.Stats().KeyN
		b := tx.Bucket(bucketSigned)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte{'o'}); k != nil && k[0] == 'o'; k, v = c.Next() {
			if len(v) > 0 && v[0] == 'M' {
				signed++
			}
		}
		return nil
	})
	return total, signed, err
}
