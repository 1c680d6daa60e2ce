//go:build concord_forge

package consensus

// A forging leader, for tests only: make test runs TestForgingLeader with
// -tags concord_forge, and the chaos suite runs a member of this build.
// Never ship it. While a forger leads a signing team, it commits, beside
// the batches it proposes (at most every forgeEvery), ops in other members'
// names: a message, an edit of another's message, making itself an admin
// in an admin's name, and removing a member in an admin's name, each with a
// signature that the honest members must refuse: the victim's signer but
// the forger's key, the forger's own valid signature over another's op, or
// none.

import (
	"cmp"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/storage"
)

const forgeEvery = 50 * time.Millisecond

var (
	forgers  sync.Map // peer ID → struct{}: in-process forgers
	forgedMu sync.Mutex
	forged   = map[string]int{}
	lastForg atomic.Int64
	forgeN   atomic.Int64
)

// Forge makes the member id forge while it leads. CONCORD_FORGE=1 makes
// every member of the process a forger (the chaos suite's image).
func Forge(id peer.ID) { forgers.Store(id.String(), struct{}{}) }

// Forged counts the forged ops committed, by attack.
func Forged() map[string]int {
	forgedMu.Lock()
	defer forgedMu.Unlock()
	out := make(map[string]int, len(forged))
	for k, v := range forged {
		out[k] = v
	}
	return out
}

func (r *Replica) forge(tv int) {
	self := r.cfg.Host.ID().String()
	if _, ok := forgers.Load(self); !ok && os.Getenv("CONCORD_FORGE") != "1" {
		return
	}
	now := time.Now()
	if tv < SignProtocol || now.UnixNano()-lastForg.Load() < int64(forgeEvery) {
		return
	}
	lastForg.Store(now.UnixNano())
	members, err := r.cfg.Store.Members()
	if err != nil {
		return
	}
	var victim, admin, other string
	for _, m := range members {
		switch {
		case m.ID == self:
		case m.Role == storage.RoleAdmin && admin == "":
			admin = m.ID
		case victim == "":
			victim = m.ID
		default:
			other = m.ID
		}
	}
	if victim == "" {
		victim = admin
	}
	if admin == "" || victim == "" {
		return
	}
	n := forgeN.Add(1)
	id := fmt.Sprintf("forged-%s-%d", self[len(self)-6:], n)
	var op storage.Op
	var attack string
	switch n % 4 {
	case 0:
		attack = "message"
		op = storage.Op{Kind: storage.OpMessage, Message: &storage.Envelope{ID: id, Author: victim, Channel: "general",
			Text: "forged by the leader", SentAt: now.UTC()}}
	case 1:
		attack = "edit"
		target := r.lastMessageOf(victim)
		if target == "" {
			return
		}
		op = storage.Op{Kind: storage.OpEdit, ID: id, By: victim, Target: target, Text: "forged edit"}
	case 2:
		attack = "role"
		op = storage.Op{Kind: storage.OpSetRole, ID: id, By: admin, Target: self, Role: storage.RoleAdmin}
	case 3:
		attack = "removal"
		op = storage.Op{Kind: storage.OpRemoveMember, ID: id, By: admin, Target: cmp.Or(other, victim)}
	}
	op.Canon = canonOp(op)
	ops := []storage.Op{op}
	switch (n / 4) % 3 {
	case 0: // the victim named as signer, the forger's key
		attack += "/victim's name"
		h := sum(op.Canon)
		g := &storage.SignedGroup{Signer: op.Author(), Hashes: [][]byte{h}}
		g.Sig, _ = r.sign.key.Sign(groupBytes(r.sign.team, g.Signer, g.Hashes))
		ops[0].Sig = g
	case 1: // the forger's own, valid signature over another's op
		attack += "/own signature"
		h := sum(op.Canon)
		g := &storage.SignedGroup{Signer: self, Hashes: [][]byte{h}}
		g.Sig, _ = r.sign.key.Sign(groupBytes(r.sign.team, self, g.Hashes))
		ops[0].Sig = g
	default:
		attack += "/unsigned"
	}
	cmd, err := encodeCommand(command{CommittedAt: r.hlc.Stamp(), Ops: ops}, tv)
	if err != nil {
		return
	}
	f := r.raft.Apply(cmd, time.Second)
	go func() {
		if f.Error() == nil {
			forgedMu.Lock()
			forged[attack]++
			forgedMu.Unlock()
		}
	}()
}

func (r *Replica) lastMessageOf(author string) string {
	h, err := r.cfg.Store.History("general", storage.Query{Limit: 50})
	if err != nil {
		return ""
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Author == author && !h[i].Deleted {
			return h[i].ID
		}
	}
	return ""
}
