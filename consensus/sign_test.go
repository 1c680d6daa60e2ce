package consensus

import (
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/storage"
)

// signTeam is a store with two members, ann (admin) and bob, and the
// channel general, fed through an FSM that checks signatures.
type signTeam struct {
	t        *testing.T
	st       *storage.Store
	f        *fsm
	ann, bob signer
	index    uint64
	at       time.Time
}

const testTeam = "team-1"

func newSigner(t *testing.T, team string) signer {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return signer{team: team, id: id.String(), key: k}
}

func newSignTeam(t *testing.T) *signTeam {
	t.Helper()
	st, err := storage.Open(storage.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	tm := &signTeam{t: t, st: st, ann: newSigner(t, testTeam), bob: newSigner(t, testTeam),
		at: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	tm.f = newFSM(testTeam, st, raft.NewInmemStore(), slog.New(slog.DiscardHandler), func(err error) { t.Error(err) }, func() {})
	t.Cleanup(func() { tm.f.close(); _ = st.Close() })
	ann, bob := tm.ann.id, tm.bob.id
	// Before the team signs: a version 3 command, as a team raised later
	// has in its log.
	setup := tm.commit(3, storage.Op{Kind: storage.OpAddMember, By: ann, Member: &storage.Member{ID: ann, Name: "ann", Role: storage.RoleAdmin}},
		storage.Op{Kind: storage.OpCreateChannel, By: ann, Channel: "general"},
		storage.Op{Kind: storage.OpInvite, By: ann, Invite: &storage.Invite{ID: "inv", Key: "k", Expires: tm.at.Add(time.Hour)}},
		storage.Op{Kind: storage.OpAddMember, By: ann, Token: "inv", Member: &storage.Member{ID: bob, Name: "bob"}})
	// The raise is the first signed command.
	setup = append(setup, tm.commit(3, tm.signed(tm.ann, storage.Op{Kind: storage.OpSetTeamVersion, By: ann, Version: SignProtocol})...)...)
	for i, r := range setup {
		if r.Err != "" {
			t.Fatalf("setup op %d: %s", i, r.Err)
		}
	}
	return tm
}

// commit encodes ops as the leader does at team version tv and applies
// the entry through the FSM, returning each op's result.
func (tm *signTeam) commit(tv int, ops ...storage.Op) []storage.Result {
	tm.t.Helper()
	tm.index++
	tm.at = tm.at.Add(time.Second)
	data, err := encodeCommand(command{CommittedAt: tm.at, Ops: ops}, tv)
	if err != nil {
		tm.t.Fatal(err)
	}
	return tm.apply(data)
}

func (tm *signTeam) apply(data []byte) []storage.Result {
	tm.t.Helper()
	out := tm.f.ApplyBatch([]*raft.Log{{Index: tm.index, Type: raft.LogCommand, Data: data}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tm.f.hurry(tm.index)
	res, err := out[0].(*pendingApply).wait(ctx)
	if err != nil {
		tm.t.Fatal(err)
	}
	return res
}

// signed signs ops as s, one group, giving them IDs as Submit does.
func (tm *signTeam) signed(s signer, ops ...storage.Op) []storage.Op {
	tm.t.Helper()
	withIDs(ops)
	if err := s.sign(ops); err != nil {
		tm.t.Fatal(err)
	}
	return ops
}

func msg(author, id, text string) storage.Op {
	return storage.Op{Kind: storage.OpMessage, Message: &storage.Envelope{ID: id, Author: author, Channel: "general", Text: text,
		SentAt: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}}
}

func wantErr(t *testing.T, what string, r storage.Result, want string) {
	t.Helper()
	if r.Err != want {
		t.Errorf("%s: result %+v, want refusal %q", what, r, want)
	}
}

// TestSignedOpsCheckedByEveryMember: from team version 4 every op carries
// its author's signature and the FSM refuses, deterministically, any op
// that is not signed by the member it speaks for, or whose content, team
// or signature was changed after signing; a replayed op changes nothing.
func TestSignedOpsCheckedByEveryMember(t *testing.T) {
	tm := newSignTeam(t)
	ann, bob := tm.ann.id, tm.bob.id

	honest := tm.signed(tm.ann, msg(ann, "m1", "hello"), storage.Op{Kind: storage.OpCreateChannel, By: ann, Channel: "news"})
	for i, r := range tm.commit(SignProtocol, honest...) {
		wantErr(t, "honest op "+string(rune('0'+i)), r, "")
	}

	// bob signs a message in ann's name.
	wantErr(t, "bob's own message", tm.commit(SignProtocol, tm.signed(tm.bob, msg(bob, "m2", "x"))...)[0], "")
	forged := msg(ann, "m3", "I quit")
	forged.Sig = tm.signed(tm.bob, msg(bob, "m3b", "x"))[0].Sig // bob's group, claiming an op of ann's
	forged.Canon = canonOp(forged)
	wantErr(t, "bob's signature on ann's message", tm.commit(SignProtocol, forged)[0], storage.RefusedBadSignature)

	// The leader changes a signed message's text.
	tampered := tm.signed(tm.ann, msg(ann, "m4", "lunch at noon"))
	tampered[0].Message = &storage.Envelope{ID: "m4", Author: ann, Channel: "general", Text: "lunch cancelled", SentAt: tampered[0].Message.SentAt}
	tampered[0].Canon = nil
	wantErr(t, "tampered text", tm.commit(SignProtocol, tampered...)[0], storage.RefusedBadSignature)

	// Signed for another team.
	other := newSigner(t, "team-2")
	other.key, other.id = tm.ann.key, ann
	wantErr(t, "another team's op", tm.commit(SignProtocol, tm.signed(other, msg(ann, "m5", "hi"))...)[0], storage.RefusedBadSignature)

	// A role change in ann's name signed by bob: refused; by bob as himself: not an admin.
	promote := storage.Op{Kind: storage.OpSetRole, By: bob, Target: bob, Role: storage.RoleAdmin}
	wantErr(t, "bob promoting himself", tm.commit(SignProtocol, tm.signed(tm.bob, promote)...)[0], "only an admin can do that")
	asAnn := tm.signed(tm.bob, promote)
	asAnn[0].By = ann
	asAnn[0].Canon = canonOp(asAnn[0])
	wantErr(t, "bob promoting himself as ann", tm.commit(SignProtocol, asAnn...)[0], storage.RefusedBadSignature)

	// A leader writing the command version of before the team signed.
	wantErr(t, "a version 3 command", tm.commit(3, msg(ann, "m7", "x"))[0], storage.RefusedUnsigned)

	// An unsigned op in a signed command, and a signed op without an ID.
	wantErr(t, "unsigned op", tm.commit(SignProtocol, msg(ann, "m6", "x"))[0], storage.RefusedBadSignature)
	noID := []storage.Op{{Kind: storage.OpCreateChannel, By: ann, Channel: "noid"}}
	if err := tm.ann.sign(noID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "op without an ID", tm.commit(SignProtocol, noID...)[0], storage.RefusedNoID)

	// A replay of ann's honest group changes nothing.
	for i, r := range tm.commit(SignProtocol, honest...) {
		if !r.Dup {
			t.Errorf("replayed op %d: %+v, want a duplicate", i, r)
		}
	}
	h, err := tm.st.History("general", storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range h {
		texts = append(texts, m.Author[len(m.Author)-4:]+":"+m.Text)
	}
	if len(h) != 2 || h[0].Text != "hello" || h[1].Author != bob {
		t.Errorf("general holds %v, want ann's hello and bob's own message only", texts)
	}
	if r, err := tm.st.Member(bob); err != nil || r.Role != storage.RoleMember {
		t.Errorf("bob is %+v (%v), want a plain member", r, err)
	}
}

// TestSignedHistoryVerifiesLater: the store keeps every signed group and
// each applied op's canonical form; all of it checks out later, a deleted
// message's text is dropped (its hash stays signed), and a changed byte is
// found.
func TestSignedHistoryVerifiesLater(t *testing.T) {
	tm := newSignTeam(t)
	ann, bob := tm.ann.id, tm.bob.id
	tm.commit(SignProtocol, tm.signed(tm.ann, msg(ann, "a1", "first"), msg(ann, "a2", "second"))...)
	tm.commit(SignProtocol, tm.signed(tm.bob, msg(bob, "b1", "bob here"),
		storage.Op{Kind: storage.OpEdit, By: bob, Target: "b1", Text: "bob was here"})...)
	tm.commit(SignProtocol, tm.signed(tm.bob, storage.Op{Kind: storage.OpEdit, By: bob, Target: "b1", Text: "bob was here twice"})...)
	tm.commit(SignProtocol, tm.signed(tm.ann, storage.Op{Kind: storage.OpDelete, By: ann, Target: "a2"})...)

	var recs []storage.SignedRecord
	checked := 0
	if err := tm.st.WalkSigned(func(r storage.SignedRecord) error {
		n, failed := CheckSigned(testTeam, r)
		checked += n
		for _, f := range failed {
			t.Errorf("verify: %s", f)
		}
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The raise, then 4 groups: a1 checks, a2 was deleted, b1 was edited
	// twice (only its latest edit is kept, and checks), and the deletion
	// checks.
	if len(recs) != 5 || checked != 4 {
		t.Fatalf("%d groups, %d ops checked; want 5 groups and 4 ops (the raise, a1, b1's latest edit, the deletion)", len(recs), checked)
	}
	recs = recs[1:]
	if recs[0].Ops[0].Message == nil || recs[0].Ops[1].Kept() || recs[1].Ops[0].Kept() || recs[1].Ops[1].Kept() || recs[2].Ops[0].Canon == nil {
		t.Errorf("kept: a1 %v, a2 %v, b1 %v, b1's first edit %v, its second %v; want a1 and the second edit only",
			recs[0].Ops[0].Kept(), recs[0].Ops[1].Kept(), recs[1].Ops[0].Kept(), recs[1].Ops[1].Kept(), recs[2].Ops[0].Kept())
	}
	total, signed, err := tm.st.SignedMessages()
	if err != nil || total != 3 || signed != 3 {
		t.Errorf("SignedMessages = %d, %d, %v; want 3 messages, all signed", total, signed, err)
	}

	bad := recs[2]
	bad.Ops = []storage.SignedOp{{Canon: append([]byte(nil), bad.Ops[0].Canon...)}}
	bad.Ops[0].Canon[len(bad.Ops[0].Canon)-1] ^= 1
	if _, failed := CheckSigned(testTeam, bad); len(failed) != 1 {
		t.Errorf("a changed byte in a kept op: failures %q, want one", failed)
	}
	changed := recs[0]
	env := *changed.Ops[0].Message
	env.Text = "first, but changed in state.db"
	changed.Ops = []storage.SignedOp{{Message: &env}, {}}
	if _, failed := CheckSigned(testTeam, changed); len(failed) != 1 {
		t.Errorf("a stored message whose text changed: failures %q, want one", failed)
	}
	if _, failed := CheckSigned("team-2", recs[2]); len(failed) != 1 {
		t.Errorf("checked under another team's ID: failures %q, want one", failed)
	}
}

// TestOwnSignaturesSkipTheCheckOnlyForWhatWasSigned: a member's FSM takes
// the signatures it made itself without checking them again, and nothing
// else: the same signature over other hashes is refused.
func TestOwnSignaturesSkipTheCheckOnlyForWhatWasSigned(t *testing.T) {
	ann := newSigner(t, testTeam)
	ann.made = newMadeSigs()
	v := newVerifier(testTeam)
	v.made = ann.made
	ops := []storage.Op{msg(ann.id, "x1", "hello")}
	if err := ann.sign(ops); err != nil {
		t.Fatal(err)
	}
	if !ann.made.has(groupBytes(testTeam, ann.id, ops[0].Sig.Hashes), ops[0].Sig.Sig) {
		t.Fatal("the signature made is not remembered")
	}
	if err := v.verify(ops[0].Sig); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	other := *ops[0].Sig
	other.Hashes = [][]byte{sum([]byte("something else"))}
	if err := v.verify(&other); err == nil {
		t.Fatal("own signature over other hashes was taken")
	}
}

// TestAdmissionNeedsTheInviteKey: in a signing team a member admitted with
// an invite must be admitted by the invite's key (which only the invite
// code's holder has), not only by the member that served the join, so a
// member cannot redeem another's open invite for an identity of its own.
func TestAdmissionNeedsTheInviteKey(t *testing.T) {
	tm := newSignTeam(t)
	ann := tm.ann.id
	invKey, newcomer := newSigner(t, testTeam), newSigner(t, testTeam)
	inv := storage.Op{Kind: storage.OpInvite, By: ann, Invite: &storage.Invite{ID: "inv2", Key: invKey.id, Expires: tm.at.Add(time.Hour)}}
	wantErr(t, "the invite", tm.commit(SignProtocol, tm.signed(tm.ann, inv)...)[0], "")
	admit := func(invitee signer) storage.Op {
		op := storage.Op{Kind: storage.OpAddMember, By: ann, Token: "inv2", Member: &storage.Member{ID: newcomer.id, Name: "dan"},
			Invitee: invitee.id}
		sig, err := invitee.key.Sign(AdmissionBytes(testTeam, "inv2", newcomer.id))
		if err != nil {
			t.Fatal(err)
		}
		op.Admission = sig
		return op
	}
	noProof := admit(invKey)
	noProof.Admission = nil
	wantErr(t, "an admission without the invite key's signature", tm.commit(SignProtocol, tm.signed(tm.ann, noProof)...)[0], storage.RefusedAdmission)
	wantErr(t, "an admission signed by the serving member's key", tm.commit(SignProtocol, tm.signed(tm.ann, admit(tm.ann))...)[0], storage.RefusedAdmission)
	wantErr(t, "an admission signed by the invite's key", tm.commit(SignProtocol, tm.signed(tm.ann, admit(invKey))...)[0], "")
	if m, err := tm.st.Member(newcomer.id); err != nil || m.Name != "dan" {
		t.Fatalf("the newcomer: %+v, %v", m, err)
	}
}

// TestLeaderRefusesAWholeGroup: a forwarded group one of whose ops the
// leader refuses is refused whole (its signature covers every op), and a
// group signed by anyone but the sending peer is refused.
func TestLeaderRefusesAWholeGroup(t *testing.T) {
	ann, bob := newSigner(t, testTeam), newSigner(t, testTeam)
	from, err := peer.Decode(ann.id)
	if err != nil {
		t.Fatal(err)
	}
	good := msg(ann.id, "g1", "fine")
	bad := msg(bob.id, "g2", "in bob's name")
	group := []storage.Op{good, bad}
	// ann signs both, one of them in bob's name (sign itself refuses to).
	g := &storage.SignedGroup{Signer: ann.id}
	for i := range group {
		group[i].Canon = canonOp(group[i])
		g.Hashes = append(g.Hashes, sum(group[i].Canon))
		group[i].Sig = g
	}
	if g.Sig, err = ann.key.Sign(groupBytes(testTeam, ann.id, g.Hashes)); err != nil {
		t.Fatal(err)
	}
	alone := []storage.Op{msg(ann.id, "g3", "alone")}
	if err := ann.sign(alone); err != nil {
		t.Fatal(err)
	}
	bobs := []storage.Op{msg(bob.id, "g4", "bob's own")}
	if err := bob.sign(bobs); err != nil {
		t.Fatal(err)
	}
	var r Replica
	errs := r.admitAll(from, append(append(group, alone...), bobs...))
	if errs[0] == nil || errs[1] == nil || errs[2] != nil || errs[3] == nil {
		t.Fatalf("admitAll = %v; want the two-op group and bob's group refused, ann's lone op admitted", errs)
	}
}
