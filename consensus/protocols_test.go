package consensus

import (
	"testing"

	libp2praft "github.com/libp2p/go-libp2p-raft"

	"concord/p2p"
)

// p2p.ProtoRaft lists the protocol go-libp2p-raft's transport registers
// (p2p does not import it); a new go-libp2p-raft that changed it would make
// the list, and docs/protocol.md, wrong.
func TestRaftProtocolIsTheTransports(t *testing.T) {
	if p2p.ProtoRaft != libp2praft.RaftProtocol {
		t.Fatalf("p2p.ProtoRaft = %q, but go-libp2p-raft's transport speaks %q", p2p.ProtoRaft, libp2praft.RaftProtocol)
	}
}
