package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The state digest is a hash chain over what each applied entry did, so that
// members can tell, by comparing 32 bytes at a common index, whether their
// histories are the same (docs/protocol.md, /concord/digest/1.0.0):
//
//	digest(base)  = SHA-256("concord digest 1 start", uvarint base)
//	digest(i)     = SHA-256(digest(prev), uvarint i, effect(i))   for an entry with ops
//	digest(i)     = digest(i-1)                                  for an entry without ops
//	effect(i)     = uvarint n, (uvarint len, op, result) × n
//
// An entry's effect is its ops as applied and their results (the seq a
// message got, its commit time, dup or refused), so a member whose state
// differs shows as soon as that difference changes the outcome of an entry,
// and from then on at every index: the chain carries it. A refusal
// contributes "refused", not its text, so that rewording an error in a later
// release does not look like divergence between mixed releases.
//
// The chain starts at the applied index where the store first ran code that
// keeps it (base 0 for a store created by it); a store from an older release,
// or one an older release applied entries to after this code had run, starts
// a new chain there. Chains with different bases never compare equal and
// must not be compared; a store restored from a snapshot continues the
// chain of the member that took it, as meta travels in the snapshot.
//
// The encoding is part of the protocol: a later release that adds a field
// to an op or a result appends it at the end of that op's bytes and only
// when it is set, so that entries not using it hash as before; anything
// else needs a new DigestVersion.

// DigestVersion is the version of the digest chain's encoding. Members
// compare only chains of the same version.
const DigestVersion = 1

// DigestRing is how many of the latest (index, digest) pairs a store keeps:
// every entry that contributed to the chain, the latest DigestRing of them.
// Two members whose applied indexes are fewer than that many changing
// entries apart share an index they can compare at.
const DigestRing = 64

// IndexDigest is the chain's digest after applying entry Index.
type IndexDigest struct {
	Index  uint64
	Digest [32]byte
}

// DigestChain is what a store can say about its digest chain.
type DigestChain struct {
	Version uint8
	// Base is the applied index at which the chain started: 0 for a
	// chain over the whole history.
	Base uint64
	// Applied is the index the chain is current to.
	Applied uint64
	// Ring is the latest pairs, oldest first: every entry that changed
	// the chain from Ring[0].Index to Applied (Ring[0] is the base's seed
	// until it is pushed out). Empty when the store has no chain yet (it
	// has applied nothing since it was opened by this code).
	Ring []IndexDigest
}

// Known reports whether the chain has any digest to compare.
func (c DigestChain) Known() bool { return len(c.Ring) > 0 }

// From is the lowest index At answers for (meaningless unless Known).
func (c DigestChain) From() uint64 {
	if len(c.Ring) == 0 {
		return c.Applied + 1
	}
	return c.Ring[0].Index
}

// At returns the chain's digest after applying every entry up to index,
// ok false if index is outside [From, Applied].
func (c DigestChain) At(index uint64) (digest [32]byte, ok bool) {
	if len(c.Ring) == 0 || index < c.Ring[0].Index || index > c.Applied {
		return digest, false
	}
	for i := len(c.Ring) - 1; i >= 0; i-- {
		if c.Ring[i].Index <= index {
			return c.Ring[i].Digest, true
		}
	}
	return digest, false
}

// Digests returns the store's digest chain as of its applied index.
func (s *Store) Digests() (DigestChain, error) {
	var c chainState
	err := s.view(func(tx *bolt.Tx) error {
		st, err := readMeta(tx)
		if err != nil {
			return err
		}
		meta, err := topBucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		c, err = readChain(meta, st.applied)
		if err != nil {
			return err
		}
		if !c.current {
			c.DigestChain = DigestChain{Version: DigestVersion, Base: st.applied, Applied: st.applied}
		}
		return nil
	})
	if err != nil {
		return DigestChain{}, fmt.Errorf("storage: digests: %w", err)
	}
	return c.DigestChain, nil
}

// Digest returns the chain's digest at index, ok false if the store does not
// know it (index outside the kept ring, or no chain yet).
func (s *Store) Digest(index uint64) (digest [32]byte, ok bool, err error) {
	c, err := s.Digests()
	if err != nil {
		return digest, false, err
	}
	digest, ok = c.At(index)
	return digest, ok, nil
}

// chainState is a DigestChain as read for Apply: current is false when meta
// has no chain for the applied index (none, an older version, or one left
// behind by entries an older release applied).
type chainState struct {
	DigestChain
	current bool
}

// readChain reads meta's chain for a store at applied index applied.
func readChain(meta bucket, applied uint64) (chainState, error) {
	v, err := meta.get(keyDigests)
	if err != nil || v == nil {
		return chainState{}, err
	}
	c, err := decodeChain(v)
	if err != nil {
		return chainState{}, err
	}
	return chainState{DigestChain: c, current: c.Version == DigestVersion && c.Applied == applied}, nil
}

// startChain begins a chain at base.
func startChain(base uint64) DigestChain {
	h := sha256.New()
	h.Write([]byte("concord digest 1 start"))
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], base)])
	var seed [32]byte
	h.Sum(seed[:0])
	return DigestChain{Version: DigestVersion, Base: base, Applied: base, Ring: []IndexDigest{{base, seed}}}
}

// encodeChain gives meta's "digests" value: byte version, uvarint base,
// uvarint applied, uvarint n, (uvarint index, 32 bytes digest) × n.
func encodeChain(c DigestChain) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(c.Ring)*(binary.MaxVarintLen64+32)+sumSize)
	b = append(b, c.Version)
	b = binary.AppendUvarint(b, c.Base)
	b = binary.AppendUvarint(b, c.Applied)
	b = binary.AppendUvarint(b, uint64(len(c.Ring)))
	for _, p := range c.Ring {
		b = binary.AppendUvarint(b, p.Index)
		b = append(b, p.Digest[:]...)
	}
	return b
}

// decodeChain reads encodeChain's form (also the digest protocol's reply).
func decodeChain(b []byte) (DigestChain, error) {
	r := NewReader(b)
	c := DigestChain{Version: r.Byte(), Base: r.Uvarint(), Applied: r.Uvarint()}
	n := r.Uvarint()
	if r.Err() == nil && n > uint64(len(b)/33) {
		return DigestChain{}, fmt.Errorf("%w: digest ring of %d", ErrCorrupt, n)
	}
	c.Ring = make([]IndexDigest, 0, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		p := IndexDigest{Index: r.Uvarint()}
		copy(p.Digest[:], r.fixed(32))
		c.Ring = append(c.Ring, p)
	}
	if err := r.Err(); err != nil {
		return DigestChain{}, fmt.Errorf("%w: digest chain: %w", ErrCorrupt, err)
	}
	if r.Len() != 0 {
		return DigestChain{}, fmt.Errorf("%w: digest chain: %d trailing bytes", ErrCorrupt, r.Len())
	}
	return c, nil
}

// EncodeDigestChain gives c's binary form (the digest protocol's reply).
func EncodeDigestChain(c DigestChain) []byte { return encodeChain(c) }

// DecodeDigestChain reads EncodeDigestChain's form; bytes that do not
// decode give an error wrapping ErrBadEncoding.
func DecodeDigestChain(b []byte) (DigestChain, error) {
	c, err := decodeChain(b)
	if err != nil {
		return DigestChain{}, fmt.Errorf("%w: %v", ErrBadEncoding, err)
	}
	for i := 1; i < len(c.Ring); i++ {
		if c.Ring[i].Index <= c.Ring[i-1].Index {
			return DigestChain{}, fmt.Errorf("%w: digest ring out of order", ErrBadEncoding)
		}
	}
	if len(c.Ring) > 0 && c.Ring[len(c.Ring)-1].Index > c.Applied {
		return DigestChain{}, fmt.Errorf("%w: digest ring past its applied index", ErrBadEncoding)
	}
	return c, nil
}

// chainer extends a chain inside one Apply.
type chainer struct {
	c   DigestChain
	buf []byte // previous digest and effect of the entry being hashed
	op  []byte // one op and its result
}

func newChainer(cs chainState, applied uint64) *chainer {
	c := cs.DigestChain
	if !cs.current {
		c = startChain(applied)
	}
	return &chainer{c: c}
}

// add extends the chain with entry e and the results it got. Entries
// without ops change nothing and do not contribute.
func (ch *chainer) add(e Entry, res []Result) {
	ch.c.Applied = e.Index
	if len(e.Ops) == 0 {
		return
	}
	prev := ch.c.Ring[len(ch.c.Ring)-1].Digest
	ch.buf = append(ch.buf[:0], prev[:]...)
	ch.buf = binary.AppendUvarint(ch.buf, e.Index)
	ch.buf = binary.AppendUvarint(ch.buf, uint64(len(e.Ops)))
	for i := range e.Ops {
		ch.op = appendOpEffect(ch.op[:0], &e.Ops[i], &res[i])
		ch.buf = binary.AppendUvarint(ch.buf, uint64(len(ch.op)))
		ch.buf = append(ch.buf, ch.op...)
	}
	// Sum256 on one buffer: hash.Hash's methods would move the digests
	// to the heap, two allocations per entry.
	p := IndexDigest{Index: e.Index, Digest: sha256.Sum256(ch.buf)}
	if len(ch.c.Ring) >= DigestRing {
		ch.c.Ring = append(ch.c.Ring[:0], ch.c.Ring[len(ch.c.Ring)-DigestRing+1:]...)
	}
	ch.c.Ring = append(ch.c.Ring, p)
}

// appendOpEffect appends op and its result in the digest's canonical form:
//
//	op     = byte kind, string id, string by, string channel, string token,
//	         string target, string role, string text, byte remove,
//	         uvarint n, string participant × n,
//	         byte 1 + envelope, string reply_to, [byte 1 + file | 0],
//	                [byte 1 + byte kind, string target, byte remove | 0] | 0,
//	         byte 1 + member (string id, name, role, uvarint n, string addr × n,
//	                time joined_at, string box_key) | 0,
//	         byte 1 + invite (string id, key, issuer, time expires, string used_by) | 0,
//	         uvarint version (OpSetTeamVersion only)
//	result = uvarint seq, string channel, time committed_at, byte dup, byte refused
func appendOpEffect(b []byte, op *Op, r *Result) []byte {
	b = append(b, byte(op.Kind))
	for _, s := range []string{op.ID, op.By, op.Channel, op.Token, op.Target, op.Role, op.Text} {
		b = AppendString(b, s)
	}
	b = append(b, boolByte(op.Remove))
	b = binary.AppendUvarint(b, uint64(len(op.Participants)))
	for _, p := range op.Participants {
		b = AppendString(b, p)
	}
	if m := op.Message; m != nil {
		b = append(b, 1)
		b = AppendEnvelope(b, m)
		b = AppendString(b, m.ReplyTo)
		if m.File != nil {
			b = AppendFile(append(b, 1), m.File)
		} else {
			b = append(b, 0)
		}
		if a := m.Action; a != nil {
			b = append(b, 1, byte(a.Kind))
			b = AppendString(b, a.Target)
			b = append(b, boolByte(a.Remove))
		} else {
			b = append(b, 0)
		}
	} else {
		b = append(b, 0)
	}
	if m := op.Member; m != nil {
		b = append(b, 1)
		b = AppendString(b, m.ID)
		b = AppendString(b, m.Name)
		b = AppendString(b, m.Role)
		b = binary.AppendUvarint(b, uint64(len(m.Addrs)))
		for _, a := range m.Addrs {
			b = AppendString(b, a)
		}
		b = AppendTime(b, m.JoinedAt)
		b = AppendString(b, m.BoxKey)
	} else {
		b = append(b, 0)
	}
	if inv := op.Invite; inv != nil {
		b = append(b, 1)
		b = AppendString(b, inv.ID)
		b = AppendString(b, inv.Key)
		b = AppendString(b, inv.Issuer)
		b = AppendTime(b, inv.Expires)
		b = AppendString(b, inv.UsedBy)
	} else {
		b = append(b, 0)
	}
	if op.Kind == OpSetTeamVersion { // the only kind with a version: older digests unchanged
		b = binary.AppendUvarint(b, uint64(op.Version))
	}
	b = binary.AppendUvarint(b, r.Seq)
	b = AppendString(b, r.Channel)
	b = AppendTime(b, r.CommittedAt)
	b = append(b, boolByte(r.Dup), boolByte(r.Err != ""))
	return b
}

// fixed reads n bytes (aliasing the input).
func (r *Reader) fixed(n int) []byte {
	if len(r.b) < n {
		r.fail(ErrShortBuffer)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
