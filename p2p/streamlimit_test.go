package p2p

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// TestBoundedOpenFreesSlotWhenClosed: a stream handed on by BoundedOpen
// holds its peer's slot until its holder closes it (Raft's transport does
// when the peer hangs up); a stream over the bound is reset at once. If
// the slot were never given back, Raft (a new stream per RPC) would stop
// after max RPCs.
func TestBoundedOpenFreesSlotWhenClosed(t *testing.T) {
	a, b := mustNewHost(t), mustNewHost(t)
	const proto = protocol.ID("/concord/test-bounded/1.0.0")
	held := make(chan network.Stream, 4)
	b.Host().SetStreamHandler(proto, BoundedOpen(1, func(s network.Stream) { held <- s }))
	if err := a.Connect(t.Context(), addrInfo(t, b)); err != nil {
		t.Fatal(err)
	}
	open := func() network.Stream {
		t.Helper()
		s, err := a.Host().NewStream(t.Context(), b.ID(), proto)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Reset() })
		if _, err := s.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// refused reports whether the other end reset s within a second.
	refused := func(s network.Stream) bool {
		_ = s.SetReadDeadline(time.Now().Add(time.Second))
		_, err := s.Read(make([]byte, 1))
		return errors.Is(err, network.ErrReset)
	}
	first := open()
	var got network.Stream
	select {
	case got = <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the first stream was not handed on")
	}
	if refused(first) {
		t.Fatal("the first stream was reset")
	}
	if !refused(open()) {
		t.Fatal("a stream over the bound was not reset")
	}
	if err := got.Close(); err != nil {
		t.Fatal(err)
	}
	open()
	select {
	case s := <-held:
		_ = s.Reset()
	case <-time.After(5 * time.Second):
		t.Fatal("the slot of a closed stream was not given back")
	}
}
