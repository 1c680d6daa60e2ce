package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
)

func TestPutVerifiesAndKeepsWholeBlobs(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("concord "), 100000)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	if _, _, err := s.Put(bytes.NewReader(data[:10]), want, 1<<20, nil); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong bytes: %v, want ErrMismatch", err)
	}
	if s.Has(want) {
		t.Fatal("a mismatched blob was kept")
	}
	if _, _, err := s.Put(bytes.NewReader(data), want, 100, nil); err == nil {
		t.Fatal("a blob over the limit was accepted")
	}
	var last int64
	h, n, err := s.Put(bytes.NewReader(data), want, 1<<20, func(p int64) { last = p })
	if err != nil || h != want || n != int64(len(data)) || last != n {
		t.Fatalf("Put = %s %d %v (progress %d)", h, n, err, last)
	}
	f, err := s.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, data) || !s.Has(h) || s.Has("nope") {
		t.Fatal("stored blob differs")
	}
	if _, err := s.Open("../etc/passwd"); err == nil {
		t.Fatal("Open accepted a path")
	}
	entries, _ := os.ReadDir(s.dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}
