//go:build concord_forge

package node

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"concord/consensus"
	"concord/internal/testutil"
	"concord/storage"
)

// TestForgingLeader: a member running modified code (the concord_forge
// build) leads the team and commits, beside every batch, ops in other
// members' names: messages, an edit of another's message, making itself an
// admin in the admin's name, removing a member in the admin's name, each
// with the victim named as signer, with its own valid signature, or with
// none. Every member refuses every one of them the same way: the honest
// members' histories stay identical, every acknowledged message is there
// once, and the forger gains nothing.
func TestForgingLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	admin, bob, forger := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bobsText := "bob's words, his alone"
	id, err := bob.Send(ctx, "general", bobsText)
	if err != nil {
		t.Fatal(err)
	}
	attempts := []attempt{{ID: id, Author: "bob", Acked: true}}
	consensus.Forge(forger.ID())
	// The team chats while the forger leads (leadership is handed to it
	// again if it moves); it forges beside the batches it proposes.
	want := []string{"message", "edit", "role", "removal"}
	err = testutil.Poll(ctx, 90*time.Second, 0, func() (bool, string) {
		if l := c.leader(); l >= 0 && l != 2 {
			tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.nodes[l].replica.TransferLeadershipTo(tctx, forger.ID())
			cancel()
			return false, fmt.Sprintf("m%d leads (transfer: %v)", l, err)
		}
		attempts = append(attempts, sendLoad(c, 1, 10, time.Minute)...)
		got := consensus.Forged()
		for _, a := range want {
			for _, how := range []string{"victim's name", "own signature", "unsigned"} {
				if got[a+"/"+how] == 0 {
					return false, fmt.Sprintf("forged so far: %v", got)
				}
			}
		}
		return true, ""
	})
	if err != nil {
		t.Fatalf("every attack committed in every form: %v", err)
	}
	c.waitConverged()
	t.Logf("forged and committed: %v", consensus.Forged())

	r := checkHistories(attempts, c.histories())
	t.Log(r)
	if !r.OK() {
		t.Fatalf("histories after the forgeries: %v", r)
	}
	var first []string
	for i, n := range c.nodes {
		h, err := n.store.History("general", storage.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, m := range h {
			if strings.Contains(m.Text, "forged") || strings.HasPrefix(m.ID, "forged-") {
				t.Errorf("m%d holds a forged message: %+v", i, m)
			}
			if m.ID == id && m.Text != bobsText {
				t.Errorf("m%d: bob's message reads %q", i, m.Text)
			}
			rows = append(rows, fmt.Sprintf("%s|%s|%d|%s", m.ID, m.Author, m.Seq, m.Text))
		}
		if i == 0 {
			first = rows
		} else if !reflect.DeepEqual(rows, first) {
			t.Errorf("m%d's history differs from m0's", i)
		}
		members, err := n.store.Members()
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 3 {
			t.Errorf("m%d: %d members after the forged removals, want 3", i, len(members))
		}
		for _, m := range members {
			if m.ID == forger.ID().String() && m.Role != storage.RoleMember {
				t.Errorf("m%d: the forger is %s", i, m.Role)
			}
		}
	}
	v, err := admin.Verify(ctx)
	if err != nil || len(v.Failed) != 0 || v.Checked == 0 {
		t.Errorf("verify on an honest member: %+v, %v", v, err)
	}
	t.Logf("verify on m0: %d signed ops checked under %d signatures, %d not kept", v.Checked, v.Groups, v.NotKept)
}
