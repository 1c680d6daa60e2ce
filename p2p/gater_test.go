package p2p

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/internal/testutil"
)

// connectWithin tries once to connect a to b and reports whether it worked.
func connectWithin(t *testing.T, a, b *Host) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	return a.Connect(ctx, addrInfo(t, b))
}

func TestPrivateNetworkKeepsOutOtherKeys(t *testing.T) {
	key := bytes.Repeat([]byte{7}, PSKSize)
	other := bytes.Repeat([]byte{8}, PSKSize)
	a := mustNewHostWith(t, Config{PSK: key})
	tests := []struct {
		name string
		psk  []byte
		ok   bool
	}{
		{"same key", key, true},
		{"other key", other, false},
		{"no key", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustNewHostWith(t, Config{PSK: tc.psk})
			err := connectWithin(t, b, a)
			if tc.ok != (err == nil) {
				t.Fatalf("connect with %s: err = %v, want success %v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestPSKSizeValidated(t *testing.T) {
	if _, err := New(t.Context(), Config{DataDir: t.TempDir(), PSK: []byte("short")}); err == nil {
		t.Fatal("a 5-byte network key was accepted")
	}
}

func TestClosedHostAdmitsOnlyAllowed(t *testing.T) {
	member := mustNewHost(t)
	outsider := mustNewHost(t)
	closed := mustNewHostWith(t, Config{Closed: true, Allowed: []peer.ID{member.ID()}})

	if err := connectWithin(t, member, closed); err != nil {
		t.Fatalf("allowed peer refused: %v", err)
	}
	// The dialler may finish its side of the handshake before the closed
	// host refuses, so what counts is that no connection survives and no
	// stream opens.
	_ = connectWithin(t, outsider, closed)
	testutil.WaitFor(t, 3*time.Second, "outsider's connection dropped", func() bool {
		return !closed.IsConnected(outsider.ID()) && !outsider.IsConnected(closed.ID())
	})
	if s, err := outsider.Host().NewStream(t.Context(), closed.ID(), "/concord/test/1"); err == nil {
		s.Reset()
		t.Fatal("an outsider opened a stream to a closed host")
	}
	if err := connectWithin(t, closed, outsider); err == nil {
		t.Fatal("a closed host dialled an outsider")
	}
	// Admitting the outsider later lets it in; taking a member out keeps
	// its open connection until Disconnect and refuses the next one.
	closed.SetAllowed([]peer.ID{outsider.ID()})
	if err := connectWithin(t, outsider, closed); err != nil {
		t.Fatalf("newly allowed peer refused: %v", err)
	}
	if !closed.IsConnected(member.ID()) {
		t.Fatal("SetAllowed closed an open connection")
	}
	closed.Disconnect(member.ID())
	_ = connectWithin(t, member, closed)
	testutil.WaitFor(t, 3*time.Second, "removed peer's new connection dropped", func() bool {
		return !closed.IsConnected(member.ID()) && !member.IsConnected(closed.ID())
	})
	if closed.Admits(member.ID()) || !closed.Admits(outsider.ID()) {
		t.Fatal("Admits disagrees with the allowed set")
	}
}
