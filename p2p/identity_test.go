package p2p

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestLoadIdentityCreatesAndReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	k1, err := LoadIdentity(dir)
	if err != nil {
		t.Fatalf("first LoadIdentity: %v", err)
	}
	if k1.Type() != crypto.Ed25519 {
		t.Errorf("key type = %v, want Ed25519", k1.Type())
	}
	path := filepath.Join(dir, IdentityFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("identity file: %v", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode = %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadIdentity(dir)
	if err != nil {
		t.Fatalf("second LoadIdentity: %v", err)
	}
	if !k1.Equals(k2) {
		t.Error("reloaded key differs from the created one")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left behind: %v", leftovers)
	}
}

func TestLoadIdentityCorrupt(t *testing.T) {
	tests := []struct {
		name    string
		content func(t *testing.T) []byte
	}{
		{"garbage", func(*testing.T) []byte { return []byte("definitely not a protobuf key") }},
		{"empty", func(*testing.T) []byte { return nil }},
		{"truncated", func(t *testing.T) []byte {
			priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := crypto.MarshalPrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			return raw[:len(raw)/2]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			content := tt.content(t)
			path := filepath.Join(dir, IdentityFile)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadIdentity(dir)
			if !errors.Is(err, ErrCorruptIdentity) {
				t.Fatalf("LoadIdentity error = %v, want ErrCorruptIdentity", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path %s", err, path)
			}
			// The file must be left alone, and New must refuse too.
			got, _ := os.ReadFile(path)
			if string(got) != string(content) {
				t.Error("corrupt identity file was modified")
			}
			if _, err := New(t.Context(), Config{DataDir: dir, Listen: []string{loopback}}); !errors.Is(err, ErrCorruptIdentity) {
				t.Errorf("New error = %v, want ErrCorruptIdentity", err)
			}
		})
	}
}

func TestIdentityPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	h1 := mustNewHostIn(t, dir)
	id1 := h1.ID()
	if err := h1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h2 := mustNewHostIn(t, dir)
	if h2.ID() != id1 {
		t.Fatalf("peer ID changed across restart: %s -> %s", id1, h2.ID())
	}
	priv, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := peer.IDFromPrivateKey(priv); id != id1 {
		t.Fatalf("identity file holds %s, host ran as %s", id, id1)
	}
}
