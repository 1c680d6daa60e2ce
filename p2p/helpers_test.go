package p2p

import (
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// loopback is the only address tests listen on.
const loopback = "/ip4/127.0.0.1/tcp/0"

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// mustNewHost starts a host with a fresh data directory on 127.0.0.1 and
// closes it when the test ends.
func mustNewHost(t *testing.T) *Host {
	t.Helper()
	return mustNewHostIn(t, t.TempDir())
}

// mustNewHostIn starts a host whose data lives in dir. Close is registered
// with t.Cleanup; closing earlier is fine (Close is idempotent).
func mustNewHostIn(t *testing.T, dir string) *Host {
	t.Helper()
	return mustNewHostWith(t, Config{DataDir: dir})
}

// mustNewHostWith starts a host from cfg, on 127.0.0.1 with the test's
// logger unless cfg says otherwise.
func mustNewHostWith(t *testing.T, cfg Config) *Host {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == nil {
		cfg.Listen = []string{loopback}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	h, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// addrInfo returns h's ID and listen addresses.
func addrInfo(t *testing.T, h *Host) peer.AddrInfo {
	t.Helper()
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Host().Addrs()}
}

// p2pAddrs parses h.Addrs() (which carry /p2p/<id>).
func p2pAddrs(t *testing.T, h *Host) []ma.Multiaddr {
	t.Helper()
	var out []ma.Multiaddr
	for _, s := range h.Addrs() {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			t.Fatalf("parsing own address %q: %v", s, err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatalf("host %s has no addresses", h.ID())
	}
	return out
}
