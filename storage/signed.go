package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
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
)

// SignedTeamVersion is the team version from which every op must be
// signed: Apply refuses an op without a signature once the team version
// it has applied is this or more, so a leader cannot slip unsigned ops in
// by writing an older command version.
const SignedTeamVersion = 4

// bucketSigned keeps the signed history (protocol 4; the first signed op
// creates it, older files have none):
//
//	"g" + 8-byte index + 4-byte position of the group's first op in the entry
//	    → string signer, string signature, uvarint n, SHA-256 × n
//	"h" + SHA-256 → the canonical form of an op that took effect
//	"m" + message ID → the hash of the op that carried the message
//	"e" + uvarint length + message ID + edit ID → the hash of an edit
//
// Deleting a message drops the canonical forms of the message and of its
// edits (their text); the group records keep only their hashes.
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
		a.groupStart = j
		if op.Refused != RefusedBadSignature {
			if err := a.putSigned(groupKey(e.Index, j), encodeGroup(op.Sig)); err != nil {
				return err
			}
		}
	}
	if op.Refused != "" || res.Err != "" || res.Dup {
		return nil
	}
	pos := j - a.groupStart
	if pos >= len(op.Sig.Hashes) {
		return fmt.Errorf("%w: op %d of entry %d is outside its signed group", ErrCorrupt, j, e.Index)
	}
	h := op.Sig.Hashes[pos]
	if err := a.putSigned(append([]byte{'h'}, h...), op.Canon); err != nil {
		return err
	}
	switch op.Kind {
	case OpMessage:
		return a.putSigned(append([]byte{'m'}, op.Message.ID...), h)
	case OpEdit:
		return a.putSigned(append(editPrefix(op.Target), op.ID...), h)
	}
	return nil
}

func groupKey(index uint64, pos int) []byte {
	k := binary.BigEndian.AppendUint64([]byte{'g'}, index)
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

// redact drops the canonical forms of message msg and of its edits.
func (a *applier) redact(msg string) error {
	b := a.tx.Bucket(bucketSigned)
	if b == nil {
		return nil
	}
	sb := newBucket(b, string(bucketSigned))
	var hashes [][]byte
	if k := append([]byte{'m'}, msg...); b.Get(k) != nil {
		h, err := sb.get(k)
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
	}
	prefix := editPrefix(msg)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		h, err := sb.open(k, v)
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
	}
	for _, h := range hashes {
		if err := sb.delete(append([]byte{'h'}, h...)); err != nil {
			return err
		}
	}
	return nil
}

// SignedRecord is one signed group of the history: the entry that carried
// it, the signature, and each op's canonical form (nil when the store did
// not keep it: the op was refused or a duplicate, or its message was
// deleted).
type SignedRecord struct {
	Index  uint64
	Pos    int // the group's first op in the entry
	Group  SignedGroup
	Canons [][]byte
}

// WalkSigned calls fn for every signed group, in log order.
func (s *Store) WalkSigned(fn func(SignedRecord) error) error {
	return s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSigned)
		if b == nil {
			return nil
		}
		sb := newBucket(b, string(bucketSigned))
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
			for _, h := range g.Hashes {
				canon, err := sb.get(append([]byte{'h'}, h...))
				if err != nil {
					return err
				}
				rec.Canons = append(rec.Canons, canon)
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// UnsignedMessages counts the stored messages and those that no signed op
// carried (committed before the team signed its ops).
func (s *Store) UnsignedMessages() (total, unsigned int, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		ids, signed := tx.Bucket(bucketIDs), tx.Bucket(bucketSigned)
		if ids == nil {
			return fmt.Errorf("%w: no ids bucket", ErrCorrupt)
		}
		return ids.ForEach(func(k, _ []byte) error {
			total++
			if signed == nil || signed.Get(append([]byte{'m'}, k...)) == nil {
				unsigned++
			}
			return nil
		})
	})
	return total, unsigned, err
}
