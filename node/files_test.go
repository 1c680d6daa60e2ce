package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"concord/dm"
	"concord/internal/testutil"
)

// TestFileOutlivesItsAuthor: a member attaches a file; another fetches it
// (on its own, it is small); the author goes offline; a third member still
// gets the file, verified, from the one that fetched it.
func TestFileOutlivesItsAuthor(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	src := filepath.Join(t.TempDir(), "photo.png")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	author := c.leader()
	if author < 0 {
		author = 0
	}
	a, b := (author+1)%3, (author+2)%3
	// m_b is offline while the file is around, so it cannot fetch it from
	// the author.
	c.partition(b)
	var last int64
	id, err := c.nodes[author].Attach(ctx, "general", src, func(done, _ int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if last != int64(len(data)) {
		t.Fatalf("attach progress ended at %d of %d", last, len(data))
	}
	m, err := c.nodes[a].message(ctx, id)
	if err != nil || m.File == nil || m.File.Size != int64(len(data)) || m.File.Type != "image/png" {
		t.Fatalf("message %+v, %v", m, err)
	}
	// m_a fetches it on its own (it is below the auto-fetch size).
	testutil.WaitFor(t, 30*time.Second, "the auto-fetch", func() bool { return c.nodes[a].blobs.Has(m.File.Hash) })
	c.crash(author)
	c.heal(b)
	if c.nodes[b].blobs.Has(m.File.Hash) {
		t.Fatal("setup: m_b had the file before the author went away")
	}
	out := filepath.Join(t.TempDir(), "copy.png")
	testutil.WaitFor(t, 30*time.Second, "m_b to fetch from m_a", func() bool {
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		defer fcancel()
		return c.nodes[b].Fetch(fctx, id, out, nil) == nil
	})
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file differs (%d bytes, %v)", len(got), err)
	}
}

func TestAttachRefusals(t *testing.T) {
	c := newTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n := c.nodes[0]
	if _, err := n.Attach(ctx, "general", "/nonexistent/file", nil); err == nil {
		t.Fatal("attached a missing file")
	}
	if _, err := n.Attach(ctx, "general", t.TempDir(), nil); err == nil {
		t.Fatal("attached a directory")
	}
	id, err := n.Send(ctx, "general", "no file here")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Fetch(ctx, id, filepath.Join(t.TempDir(), "x"), nil); err == nil {
		t.Fatal("fetched a file from a message without one")
	}
}

// TestPrivateFile: a file sent in a private conversation is stored and
// served as ciphertext: a non-participant that holds its blob has no
// plaintext byte of it in its data dir and cannot fetch it; a participant
// fetches and gets the original, named as sent.
func TestPrivateFile(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	data := bytes.Repeat([]byte("top secret plan, do not share. "), 4096)
	src := filepath.Join(t.TempDir(), "plan.txt")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.nodes[0].DM(ctx, []string{c.ids[1].String()}, "a file follows"); err != nil {
		t.Fatal(err)
	}
	channel := dm.Channel([]string{c.ids[0].String(), c.ids[1].String()})
	id, err := c.nodes[0].Attach(ctx, channel, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.nodes[2].message(ctx, id)
	if err != nil || raw.File == nil || raw.File.Name != sealedFileName || raw.File.Size <= int64(len(data)) {
		t.Fatalf("the log shows %+v, %v: want the ciphertext's neutral name and size", raw.File, err)
	}
	// The outsider stores (and could serve) the ciphertext, verified by hash.
	if err := c.nodes[2].fetchBlob(ctx, raw.File, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[2].Fetch(ctx, id, filepath.Join(t.TempDir(), "x"), nil); err == nil {
		t.Fatal("a non-participant fetched a private file")
	}
	c.waitConverged()
	needle := data[:64]
	err = filepath.WalkDir(c.dirs[2], func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && (bytes.Contains(b, needle) || bytes.Contains(b, []byte("plan.txt"))) {
			t.Errorf("%s holds plaintext of the private file", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The participant fetches it (from the author or the outsider).
	out := filepath.Join(t.TempDir(), "copy.txt")
	if err := c.nodes[1].Fetch(ctx, id, out, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the participant got %d bytes (%v), want the original %d", len(got), err, len(data))
	}
	if err := c.nodes[0].Edit(ctx, id, "renamed"); err == nil {
		t.Fatal("edited a private file message (its sealed text holds the file key)")
	}
	h, err := c.nodes[1].History(ctx, channel, 0)
	if err != nil || len(h) != 2 || h[1].File == nil || h[1].File.Name != "plan.txt" || h[1].File.Size != int64(len(data)) || h[1].Text != "plan.txt" {
		t.Fatalf("the participant's history: %+v, %v", h, err)
	}
}

func TestAutoFetchLimit(t *testing.T) {
	for _, tc := range []struct {
		mb   int
		want int64
	}{{0, autoFetchBytes}, {25, 25 << 20}, {-1, -1}} {
		if got := (MemberConfig{AutoFetchMB: tc.mb}).autoFetchLimit(); got != tc.want {
			t.Errorf("auto_fetch_mb %d: limit %d, want %d", tc.mb, got, tc.want)
		}
	}
}
