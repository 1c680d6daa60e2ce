package consensus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/storage"
)

// A Config without Allow fails closed: New refuses it before it opens the
// Raft log or serves anything, rather than admitting every peer.
func TestNewRefusesNilAllow(t *testing.T) {
	st, err := storage.Open(storage.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	dir := filepath.Join(t.TempDir(), "raft")
	// The host is never used: New must fail before it touches it.
	cfg := Config{TeamID: "t", Host: struct{ host.Host }{}, Dir: dir, Store: st, MaxVoters: 3}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "Allow") {
		t.Errorf("Validate without Allow = %v, want an error naming Allow", err)
	}
	r, err := New(cfg)
	if err == nil {
		_ = r.Close()
		t.Fatal("New without Allow succeeded")
	}
	if !strings.Contains(err.Error(), "Allow") {
		t.Errorf("New without Allow = %v, want an error naming Allow", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("New without Allow created %s (stat: %v)", dir, err)
	}
	cfg.Allow = func(peer.ID) bool { return false }
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with Allow = %v", err)
	}
}
