package node_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/node"
	"concord/version"
)

// TestOpensDataDirOfEarlierRelease opens a data dir that the release
// before the node/ library (894ac78, `concord init` + two `concord send`)
// made: the data-dir format did not change, so the member starts, serves
// its history and sends.
func TestOpensDataDirOfEarlierRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	dir := untar(t, filepath.Join("testdata", "datadir-894ac78.tar.gz"))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	n, err := node.Open(ctx, node.Config{Dir: filepath.Join(dir, "m"), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatalf("open the earlier release's data dir: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if err := n.WaitReplayed(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.Team != "Old release" || st.Name != "ann" || st.Role != "leader" {
		t.Fatalf("status: team %q, name %q, role %q", st.Team, st.Name, st.Role)
	}
	if _, err := n.Send(ctx, "general", "sent by this release"); err != nil {
		t.Fatal(err)
	}
	msgs, err := n.History(ctx, "general", 0)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if want := []string{"made by release 894ac78", "second message", "sent by this release"}; !slices.Equal(texts, want) {
		t.Fatalf("history %q, want %q", texts, want)
	}

	// A team made before versions is at team version 1; its only member
	// reads the newest, so the leader (itself) raises it by itself, and
	// entries are written in the version 3 encoding from then on.
	testutil.WaitFor(t, 20*time.Second, "the team version raised by the leader", func() bool {
		return n.Status().TeamVersion == version.Protocol
	})
	if _, err := n.RaiseTeamVersion(ctx); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("a second raise: %v, want ErrInvalid (already at the newest)", err)
	}
	if _, err := n.Send(ctx, "general", "after the raise"); err != nil {
		t.Fatal(err)
	}
	if msgs, err := n.History(ctx, "general", 0); err != nil || len(msgs) != 4 || n.Status().TeamVersion != version.Protocol {
		t.Fatalf("after the raise: %v, %d messages, team version %d", err, len(msgs), n.Status().TeamVersion)
	}
}

// TestOldTeamRaisedOnFullDisk: the leader raises the team version by
// itself even while its disk reads full. Its users' own changes are refused
// then (TestTeamChangesOnFullDisk), but this raise is the member's own
// entry, which no user is there to be refused.
func TestOldTeamRaisedOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	dir := untar(t, filepath.Join("testdata", "datadir-894ac78.tar.gz"))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	full := func(string) (uint64, uint64, error) { return 10 << 20, 1 << 40, nil }
	n, err := node.Open(ctx, node.Config{Dir: filepath.Join(dir, "m"), Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		NTP: []string{"127.0.0.1:9"}, DiskFree: full})
	if err != nil {
		t.Fatalf("open the earlier release's data dir: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if err := n.WaitReplayed(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, "general", "typed on a full disk"); !errors.Is(err, node.ErrDiskFull) {
		t.Fatalf("send on a full disk: %v, want ErrDiskFull", err)
	}
	testutil.WaitFor(t, 20*time.Second, "the team version raised by the leader on a full disk", func() bool {
		return n.Status().TeamVersion == version.Protocol
	})
}

// untar unpacks a .tar.gz into a new temporary dir and returns it.
func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o700)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				_, err = io.Copy(out, tr)
				if cerr := out.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefusesDataDirOfNewerRelease: a data dir a newer release has run is
// refused with the release it needs, and nothing in it changes; one this
// release runs is marked with it.
func TestRefusesDataDirOfNewerRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "m")
	cfg := node.Config{Dir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NTP: []string{"127.0.0.1:9"}}
	if _, err := node.Create(ctx, cfg, "t", "ann"); err != nil {
		t.Fatal(err)
	}
	conf, err := node.LoadConfig(dir)
	if err != nil || conf.Release != version.Release {
		t.Fatalf("a new member's data dir is not marked with this release: %v %q", err, conf.Release)
	}
	conf.Release = "9.9.9"
	if err := node.SaveConfig(dir, conf); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	stateBefore, _ := os.ReadFile(filepath.Join(dir, "state.db"))
	_, err = node.Open(ctx, cfg)
	want := "this data dir was used by Concord 9.9.9; this is " + version.Release
	if !errors.Is(err, node.ErrNewerDataDir) || !strings.Contains(err.Error(), want) {
		t.Fatalf("open: %v, want ErrNewerDataDir saying %q", err, want)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	stateAfter, _ := os.ReadFile(filepath.Join(dir, "state.db"))
	if string(before) != string(after) || string(stateBefore) != string(stateAfter) {
		t.Fatal("a refused open changed the data dir")
	}
}
