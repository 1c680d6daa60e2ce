package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"concord/storage"
)

// TestPrivateMessages: a DM reaches its participants in clear and every
// member as ciphertext; the non-participant's data dir never holds the
// text, its reads are refused, and the conversation is hidden from it.
func TestPrivateMessages(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ann, bob, eve := c.nodes[0], c.nodes[1], c.nodes[2]
	const secret = "the surprise party is on friday"
	id, err := ann.DM(ctx, []string{"m1"}, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Reply(ctx, id, "I'll bring cake", true); err != nil {
		t.Fatal(err)
	}
	if err := ann.Edit(ctx, id, secret+"!"); err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	var channel string
	for _, n := range []*Node{ann, bob} {
		chans, err := n.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(chans, func(ch storage.Channel) bool { return strings.HasPrefix(ch.Name, "dm-") })
		if i < 0 {
			t.Fatalf("%s does not list the conversation", n.conf.Name)
		}
		channel = chans[i].Name
		h, err := n.History(ctx, channel, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Text != secret+"!" || h[1].Text != "I'll bring cake" || h[1].ReplyTo != id {
			t.Fatalf("%s reads %+v", n.conf.Name, h)
		}
	}
	if chans, _ := eve.Channels(ctx); slices.ContainsFunc(chans, func(ch storage.Channel) bool { return ch.Name == channel }) {
		t.Fatal("a non-participant sees the conversation")
	}
	if _, err := eve.History(ctx, channel, 0); err == nil {
		t.Fatal("a non-participant read a private conversation")
	}
	if _, err := eve.Send(ctx, channel, "let me in"); err == nil {
		t.Fatal("a non-participant wrote into a private conversation")
	}
	// Look at the bytes: every member stores the conversation, none in clear.
	c.closeAll()
	for i, dir := range c.dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, clear := range []string{"surprise party", "bring cake"} {
				if bytes.Contains(b, []byte(clear)) {
					t.Errorf("m%d: %s holds %q in clear", i, path, clear)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
