package chaos

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/oklog/ulid/v2"

	"concord/storage"
)

// TestAttackOutsiders: a host without the team's private-network key, and
// one with the key but not a member (a fresh identity), try every member
// while the team is under load. The first cannot connect; the second's
// connection is closed by the member's gater before any stream is
// answered. Nothing of theirs lands and the team's history checks clean.
func TestAttackOutsiders(t *testing.T) {
	requireDocker(t)
	tm := newTeam(t, 3, imageTag)
	w, finish := tm.attackLoad(tm.members, 1, "out")
	tm.waitFor(60*time.Second, "20 acknowledged sends", func() (bool, string) {
		return w.acked() >= 20, ""
	})
	psk := networkKey(t, tm.members[0])
	for _, o := range []struct {
		name string
		psk  []byte
	}{{"no network key", nil}, {"network key, not a member", psk}} {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out := newHost(t, tm, key, o.psk)
		for _, m := range tm.members {
			ctx, cancel := context.WithTimeout(tm.ctx, 10*time.Second)
			id, err := out.dial(ctx, m)
			tm.events.add("outsider (%s) dials %s: %v", o.name, m.name, err)
			if err == nil {
				// The member's gater judges a connection once it is
				// secured, so the dialer may see it up for a moment: no
				// stream may get an answer through it.
				env := storage.Envelope{ID: ulid.Make().String(), Author: out.h.ID().String(), Channel: "general",
					Text: "from an outsider", SentAt: time.Now()}
				ans, err := out.propose(ctx, id, env)
				tm.events.add("outsider (%s) proposes at %s: %+v %v", o.name, m.name, ans, err)
				if err == nil {
					t.Errorf("outsider (%s) got an answer from %s: %+v", o.name, m.name, ans)
				}
				if err := poll(ctx, 5*time.Second, func() (bool, string) {
					return out.h.Network().Connectedness(id) != network.Connected, "still connected"
				}); err != nil {
					t.Errorf("outsider (%s) stays connected to %s: %v", o.name, m.name, err)
				}
			}
			cancel()
		}
	}
	finish()
}
