package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	waitFor(t, 30*time.Second, "the auto-fetch", func() bool { return c.nodes[a].blobs.Has(m.File.Hash) })
	c.crash(author)
	c.heal(b)
	if c.nodes[b].blobs.Has(m.File.Hash) {
		t.Fatal("setup: m_b had the file before the author went away")
	}
	out := filepath.Join(t.TempDir(), "copy.png")
	waitFor(t, 30*time.Second, "m_b to fetch from m_a", func() bool {
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
