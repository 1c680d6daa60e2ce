package node_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"concord/node"
	"concord/storage"
	"concord/version"
)

// TestTwoTeamsInOneProcess opens members of two different teams in one
// process through the package's exported API only, each with its own data
// dir: each reads back only its own team's history, and closing one leaves
// the other working.
func TestTwoTeamsInOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts members")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	root := t.TempDir()
	open := func(team string) *node.Node {
		t.Helper()
		cfg := node.Config{Dir: filepath.Join(root, team), Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NTP: []string{"127.0.0.1:9"}}
		if _, err := node.Create(ctx, cfg, team, "ann"); err != nil {
			t.Fatalf("create %s: %v", team, err)
		}
		n, err := node.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("open %s: %v", team, err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return n
	}
	a, b := open("alpha"), open("beta")
	if a.ID() == b.ID() {
		t.Fatal("two members share one identity")
	}
	for _, m := range []struct {
		n    *node.Node
		text string
	}{{a, "for alpha 1"}, {b, "for beta 1"}, {a, "for alpha 2"}, {b, "for beta 2"}} {
		if _, err := m.n.Send(ctx, "general", m.text); err != nil {
			t.Fatalf("send %q: %v", m.text, err)
		}
	}
	texts := func(n *node.Node) []string {
		t.Helper()
		msgs, err := n.History(ctx, "general", 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return out
	}
	if got, want := texts(a), []string{"for alpha 1", "for alpha 2"}; !slices.Equal(got, want) {
		t.Fatalf("alpha's history %q, want %q", got, want)
	}
	if got, want := texts(b), []string{"for beta 1", "for beta 2"}; !slices.Equal(got, want) {
		t.Fatalf("beta's history %q, want %q", got, want)
	}
	if sa, sb := a.Status(), b.Status(); sa.TeamID == sb.TeamID || sa.Team != "alpha" || sb.Team != "beta" {
		t.Fatalf("teams: %q (%s) and %q (%s)", sa.Team, sa.TeamID, sb.Team, sb.TeamID)
	}
	// A new team starts at the newest team version of the release that made it.
	if st := a.Status(); st.TeamVersion != version.Protocol || st.Release != version.Release {
		t.Fatalf("a new team: team version %d, release %q", st.TeamVersion, st.Release)
	}

	if err := a.Close(); err != nil {
		t.Fatalf("close alpha: %v", err)
	}
	if _, err := a.Send(ctx, "general", "after close"); err == nil {
		t.Error("a closed member accepted a send")
	}
	if _, err := b.Send(ctx, "general", "for beta 3"); err != nil {
		t.Fatalf("beta after alpha closed: %v", err)
	}
	if got := texts(b); len(got) != 3 || got[2] != "for beta 3" {
		t.Fatalf("beta's history after alpha closed: %q", got)
	}
	// A channel of one team is unknown to the other.
	if err := b.CreateChannel(ctx, "beta-only"); err != nil {
		t.Fatal(err)
	}
	a2 := open2(t, ctx, filepath.Join(root, "alpha"))
	if _, err := a2.Send(ctx, "beta-only", "wrong team"); !errors.Is(err, node.ErrInvalid) && !errors.Is(err, storage.ErrUnknownChannel) {
		t.Fatalf("send to the other team's channel: %v, want ErrInvalid", err)
	}
}

// open2 opens the member in dir again.
func open2(t *testing.T, ctx context.Context, dir string) *node.Node {
	t.Helper()
	n, err := node.Open(ctx, node.Config{Dir: dir, NTP: []string{"127.0.0.1:9"}})
	if err != nil {
		t.Fatalf("reopen %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}
