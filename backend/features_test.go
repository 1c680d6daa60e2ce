//go:build !headless

package backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"concord/app"
	"concord/internal/testutil"
	"concord/storage"
)

// TestGUIBackendFeatures drives the window's search, private conversations
// and files over two real members.
func TestGUIBackendFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts members")
	}
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	a := newTestBackend(t, filepath.Join(root, "a"))
	if err := a.CreateTeam(ctx, "Ops", "ann"); err != nil {
		t.Fatal(err)
	}
	b := newTestBackend(t, filepath.Join(root, "b"))
	code, err := a.Invite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.JoinTeam(ctx, code, "bob"); err != nil {
		t.Fatal(err)
	}

	// Search finds a committed message on the other member within a second.
	id, err := a.Send(ctx, "general", "the build farm needs a reboot")
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "bob's search finds the message", func() bool {
		hits, err := b.Search(ctx, "farm reb*", 10)
		return err == nil && len(hits) == 1 && hits[0].ID == id && hits[0].Seq > 0
	})
	if _, err := b.Search(ctx, "   ", 10); err == nil {
		t.Error("empty query: want an error")
	}

	// A private conversation: started once, readable by both in clear.
	bn, err := b.node()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.StartConversation(ctx, nil); err == nil {
		t.Error("a conversation with no one else: want an error")
	}
	ch, err := a.StartConversation(ctx, []string{bn.ID().String()})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := b.StartConversation(ctx, []string{"ann"}); err != nil || again != ch {
		t.Fatalf("bob's conversation with ann: %q %v, want %q", again, err, ch)
	}
	dmID, err := a.Send(ctx, ch, "just between us")
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "bob reads the private message", func() bool {
		h, err := b.History(ctx, ch, 0, 10)
		return err == nil && len(h) == 1 && h[0].ID == dmID && h[0].Text == "just between us"
	})

	// Files: attach with progress, fetch on the other member, open.
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MB
	path := filepath.Join(root, "blob.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var last int64
	fid, err := a.Attach(ctx, "general", path, func(done, total int64) { last = done })
	if err != nil || last != int64(len(data)) {
		t.Fatalf("Attach: %v, progress ended at %d of %d", err, last, len(data))
	}
	out := filepath.Join(root, "fetched.bin")
	testutil.WaitFor(t, 10*time.Second, "bob has the file message", func() bool {
		h, err := b.History(ctx, "general", 0, 1)
		return err == nil && len(h) == 1 && h[0].ID == fid
	})
	var fetched int64
	if err := b.Fetch(ctx, fid, out, func(done, total int64) { fetched = done }); err != nil || fetched != int64(len(data)) {
		t.Fatalf("Fetch: %v, progress %d", err, fetched)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched %d bytes: %v", len(got), err)
	}
	h, err := b.History(ctx, "general", 0, 1)
	if err != nil || h[0].File == nil {
		t.Fatalf("file message: %v %+v", err, h)
	}
	r, err := b.OpenFile(ctx, *h[0].File, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OpenFile read %d bytes: %v", len(got), err)
	}
	missing := storage.FileRef{Name: "x", Size: 1, Hash: strings.Repeat("ab", 32)}
	if _, err := a.OpenFile(ctx, missing, false); !errors.Is(err, app.ErrNotFetched) {
		t.Fatalf("OpenFile of a file not here: %v, want ErrNotFetched", err)
	}
	if _, err := a.OpenFile(ctx, missing, true); err == nil {
		t.Fatal("OpenFile of a file no member has: want an error")
	}
}
