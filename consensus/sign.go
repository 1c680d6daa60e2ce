package consensus

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/storage"
	"concord/version"
)

// SignProtocol is the team version from which every op is signed by its
// author (docs/protocol.md, "Signed ops").
const SignProtocol = storage.SignedTeamVersion

// signDomain starts every signed message, so that a signature over a
// group of ops can never be taken for one over anything else the member's
// identity key signs (Noise handshakes, invites).
const signDomain = "concord/signed-ops/1\x00"

// From protocol 4 on, a command's ops travel in signed groups (and so do
// forwarded ops, in forward requests of version 3):
//
//	ops4  = uvarint ngroups, group × ngroups
//	group = string signer, string signature, uvarint n, canon × n
//	canon = string id ("" for a message: its envelope has the ID), then the
//	        op as version 2 encodes it without the ID prefix (kind 12)
//
// The signature is the signer's Ed25519 signature (its libp2p identity) over
// signDomain, string team ID, string signer, uvarint n, SHA-256(canon) × n.

// canonOp is op's canonical form.
func canonOp(op storage.Op) []byte {
	id := op.ID
	if op.Kind == storage.OpMessage {
		id = ""
	}
	op.ID = ""
	return appendOp(storage.AppendString(nil, id), op, true)
}

// groupBytes is what a group's signature covers.
func groupBytes(team, signer string, hashes [][]byte) []byte {
	b := storage.AppendString([]byte(signDomain), team)
	b = storage.AppendString(b, signer)
	b = binary.AppendUvarint(b, uint64(len(hashes)))
	for _, h := range hashes {
		b = append(b, h...)
	}
	return b
}

// newOpID gives an op that has no ID one (16 random bytes, hex): from
// protocol 4 every op has an ID, so a copy of it is applied once.
func newOpID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withIDs gives every op but a message an ID if it has none. Done once,
// before any attempt, so that a retry carries the same ID.
func withIDs(ops []storage.Op) {
	for i := range ops {
		if ops[i].Kind != storage.OpMessage && ops[i].ID == "" {
			ops[i].ID = newOpID()
		}
	}
}

func sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// signer signs this member's ops.
type signer struct {
	team string
	id   string
	key  crypto.PrivKey
	made *madeSigs // what it signed, so that this member's own FSM need not check it again
}

// madeSigs remembers the last signatures this member made, by the SHA-256
// of what they sign. A signature this member made over those bytes is
// valid, so its FSM skips the Ed25519 check for it and decides exactly as
// every other member does by checking.
type madeSigs struct {
	mu   sync.Mutex
	sigs map[[32]byte][]byte
	fifo [][32]byte
}

const maxMadeSigs = 4096

func newMadeSigs() *madeSigs { return &madeSigs{sigs: make(map[[32]byte][]byte)} }

func (m *madeSigs) add(msg, sig []byte) {
	if m == nil {
		return
	}
	k := sha256.Sum256(msg)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.fifo) >= maxMadeSigs {
		delete(m.sigs, m.fifo[0])
		m.fifo = m.fifo[1:]
	}
	m.sigs[k] = sig
	m.fifo = append(m.fifo, k)
}

func (m *madeSigs) has(msg, sig []byte) bool {
	if m == nil {
		return false
	}
	k := sha256.Sum256(msg)
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sigs[k]
	return ok && bytes.Equal(s, sig)
}

// sign signs ops, all authored by this member, as one group.
func (s signer) sign(ops []storage.Op) error {
	if s.key == nil {
		return errors.New("consensus: no identity key to sign with")
	}
	g := &storage.SignedGroup{Signer: s.id, Hashes: make([][]byte, len(ops))}
	for i := range ops {
		if a := ops[i].Author(); a != s.id {
			return fmt.Errorf("consensus: will not sign an op of %s", a)
		}
		ops[i].Canon = canonOp(ops[i])
		g.Hashes[i] = sum(ops[i].Canon)
		ops[i].Sig = g
	}
	msg := groupBytes(s.team, s.id, g.Hashes)
	sig, err := s.key.Sign(msg)
	if err != nil {
		return fmt.Errorf("consensus: sign: %w", err)
	}
	g.Sig = sig
	s.made.add(msg, sig)
	return nil
}

// signUnsigned signs each run of ops without a signature as one group.
func (s signer) signUnsigned(ops []storage.Op) error {
	for i := 0; i < len(ops); {
		if ops[i].Sig != nil {
			i++
			continue
		}
		j := i + 1
		for j < len(ops) && ops[j].Sig == nil {
			j++
		}
		if err := s.sign(ops[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// signedGroups splits ops into runs that share one signature (an op without
// one is a run of its own).
func signedGroups(ops []storage.Op) [][]storage.Op {
	var groups [][]storage.Op
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[i].Sig != nil && ops[j].Sig == ops[i].Sig {
			j++
		}
		groups = append(groups, ops[i:j:j])
		i = j
	}
	return groups
}

// appendGroups appends ops in signed groups: consecutive ops that share a
// signature form one group (an op without one forms a group of its own,
// with no signer, which every member refuses).
func appendGroups(b []byte, ops []storage.Op) []byte {
	groups := signedGroups(ops)
	b = binary.AppendUvarint(b, uint64(len(groups)))
	for _, g := range groups {
		var sg storage.SignedGroup
		if g[0].Sig != nil {
			sg = *g[0].Sig
		}
		b = storage.AppendString(b, sg.Signer)
		b = storage.AppendString(b, string(sg.Sig))
		b = binary.AppendUvarint(b, uint64(len(g)))
		for _, op := range g {
			if op.Canon == nil {
				op.Canon = canonOp(op)
			}
			b = append(b, op.Canon...)
		}
	}
	return b
}

// readGroups reads what appendGroups wrote; buf is the whole buffer r reads
// from (each op's canonical form is a slice of it).
func readGroups(r *storage.Reader, buf []byte, proto int) ([]storage.Op, error) {
	ng := r.Uvarint()
	if r.Err() == nil && (ng > maxOpsPerCommand || ng > uint64(r.Len())) {
		return nil, fmt.Errorf("%w: %d groups", ErrBadCommand, ng)
	}
	var ops []storage.Op
	for gi := uint64(0); gi < ng && r.Err() == nil; gi++ {
		g := &storage.SignedGroup{Signer: r.String(), Sig: r.Bytes()}
		n := r.Uvarint()
		if r.Err() == nil && (n == 0 || uint64(len(ops))+n > maxOpsPerCommand || n > uint64(r.Len())) {
			return nil, fmt.Errorf("%w: group %d of %d ops", ErrBadCommand, gi, n)
		}
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			start := len(buf) - r.Len()
			id := r.String()
			op, err := readOp(r, proto, uint64(len(ops)))
			if err != nil {
				return nil, err
			}
			if r.Err() != nil {
				break
			}
			if op.ID != "" || (op.Kind == storage.OpMessage && id != "") {
				return nil, fmt.Errorf("%w: op %d: not in canonical form", ErrBadCommand, len(ops))
			}
			op.ID = id
			op.Canon = buf[start : len(buf)-r.Len() : len(buf)-r.Len()]
			g.Hashes = append(g.Hashes, sum(op.Canon))
			op.Sig = g
			ops = append(ops, op)
		}
	}
	return ops, readEnd(r)
}

// verifier checks signed groups. Its verdicts depend only on the ops and
// the team ID, so every member decides alike.
type verifier struct {
	team string
	made *madeSigs // this member's own signatures (nil: none known)
	mu   sync.Mutex
	keys map[string]crypto.PubKey // signers' public keys, from their peer IDs
}

func newVerifier(team string) *verifier {
	return &verifier{team: team, keys: make(map[string]crypto.PubKey)}
}

// check marks every op whose group's signature fails, or that speaks for
// someone other than its group's signer, or that has no ID, as refused.
func (v *verifier) check(ops []storage.Op) {
	var last *storage.SignedGroup
	var ok bool
	for i := range ops {
		op := &ops[i]
		if op.Sig == nil {
			continue
		}
		if op.Sig != last {
			last, ok = op.Sig, v.verify(op.Sig) == nil
		}
		switch {
		case !ok:
			op.Refused = storage.RefusedBadSignature
		case op.Author() != op.Sig.Signer:
			op.Refused = storage.RefusedNotSigner
		case op.Kind != storage.OpMessage && op.ID == "":
			op.Refused = storage.RefusedNoID
		case op.Kind == storage.OpAddMember && op.Token != "" && !v.admitted(*op):
			op.Refused = storage.RefusedAdmission
		}
	}
}

// verify checks one group's signature.
func (v *verifier) verify(g *storage.SignedGroup) error {
	msg := groupBytes(v.team, g.Signer, g.Hashes)
	if v.made.has(msg, g.Sig) {
		return nil
	}
	pub, err := v.key(g.Signer)
	if err != nil {
		return err
	}
	ok, err := pub.Verify(msg, g.Sig)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New(storage.RefusedBadSignature)
	}
	return nil
}

// AdmissionBytes is what an invite's key signs to admit member with the
// invite token (the joiner signs it; every member checks it).
func AdmissionBytes(team, token, member string) []byte {
	b := storage.AppendString([]byte("concord/admission/1\x00"), team)
	return storage.AppendString(storage.AppendString(b, token), member)
}

// admitted checks an admission's proof: the invite key named in the op
// signed it. That the key is the invite's is checked against the state
// when the op is applied.
func (v *verifier) admitted(op storage.Op) bool {
	pub, err := v.key(op.Invitee)
	if err != nil || op.Member == nil {
		return false
	}
	ok, err := pub.Verify(AdmissionBytes(v.team, op.Token, op.Member.ID), op.Admission)
	return err == nil && ok
}

// maxKeys bounds the cache of public keys (a team has far fewer members).
const maxKeys = 4096

func (v *verifier) key(signer string) (crypto.PubKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[signer]; ok {
		return k, nil
	}
	id, err := peer.Decode(signer)
	if err != nil {
		return nil, fmt.Errorf("signer %q: %w", signer, err)
	}
	k, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("signer %s: %w", signer, err)
	}
	if len(v.keys) >= maxKeys {
		clear(v.keys)
	}
	v.keys[signer] = k
	return k, nil
}

// CheckSigned re-checks one group of a member's stored signed history
// (`concord verify`): the signature over the group's hashes, and each kept
// op's canonical form (stored, or rebuilt from the stored message) against
// its hash and its author. It returns one sentence per failure, and how
// many ops it checked.
func CheckSigned(team string, rec storage.SignedRecord) (checked int, failures []string) {
	v := newVerifier(team)
	at := fmt.Sprintf("entry %d, ops from %d", rec.Index, rec.Pos)
	if err := v.verify(&rec.Group); err != nil {
		return 0, []string{fmt.Sprintf("%s: the group signed by %s: %v", at, rec.Group.Signer, err)}
	}
	for i, kept := range rec.Ops {
		canon := kept.Canon
		if kept.Message != nil {
			canon = canonOp(storage.Op{Kind: storage.OpMessage, Message: kept.Message})
		}
		if canon == nil {
			continue
		}
		checked++
		if !bytes.Equal(sum(canon), rec.Group.Hashes[i]) {
			failures = append(failures, fmt.Sprintf("%s: op %d does not match its signed hash", at, rec.Pos+i))
			continue
		}
		r := storage.NewReader(canon)
		_ = r.String() // the ID
		op, err := readOp(r, version.Protocol, 0)
		if err == nil {
			err = readEnd(r)
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: op %d does not decode: %v", at, rec.Pos+i, err))
			continue
		}
		if a := op.Author(); a != rec.Group.Signer {
			failures = append(failures, fmt.Sprintf("%s: op %d speaks for %s but %s signed it", at, rec.Pos+i, a, rec.Group.Signer))
		}
	}
	return checked, failures
}
