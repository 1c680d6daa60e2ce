package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"concord/p2p"
)

// TestForwardStreamFloodIsBounded: a member that opens thousands of forward
// streams to the leader (the chaos suite's flood) parked a goroutine and a
// stream for each until its 6 s deadline, with no bound (the resource
// manager's limits are lifted for LAN teams), then got thousands of answers
// and the leader logged a warning for each at once. At 3000 streams the
// team's send p99 did not measurably suffer here, but memory grows with
// the count. The leader now serves a few forward streams per peer (a
// follower keeps one in flight) and resets the rest at once, and the other
// members' sends go on.
func TestForwardStreamFloodIsBounded(t *testing.T) {
	c := newTestCluster(t, 3)
	li := c.leader()
	leader, flooder, sender := c.nodes[li], c.nodes[(li+1)%3], c.nodes[(li+2)%3]
	// A length prefix that never ends.
	if parked := floodParks(t, flooder, leader.ID(), sender, p2p.ProtoPropose, []byte{0x80}); parked > 16 {
		t.Fatalf("%d of %d forward streams from one peer parked at the leader: the flood is not bounded", parked, floodCount)
	}
}

// TestStreamFloodIsBoundedOnEveryProtocol: the bound on forward streams
// covered one protocol. The chaos suite's floods on the others found each
// serving any number of streams from one member, each parking a goroutine
// and a stream: Raft's transport and the probe responder with no deadline
// at all (for as long as the member keeps the stream open), files for 10 s
// before the request is read, peer time and removal notices for 2 s. Each
// now serves a few streams per peer and resets the rest at once.
func TestStreamFloodIsBoundedOnEveryProtocol(t *testing.T) {
	c := newTestCluster(t, 3)
	li := c.leader()
	leader, flooder, sender := c.nodes[li], c.nodes[(li+1)%3], c.nodes[(li+2)%3]
	for _, tc := range []struct {
		name  string
		proto protocol.ID
		first []byte // what each stream sends: the start of a request that never ends
		max   int64
	}{
		{"raft", p2p.ProtoRaft, []byte{0}, 64}, // an AppendEntries type byte, no body
		{"probe", p2p.ProtoProbe, []byte{0x80}, 4},
		{"blob", p2p.ProtoBlob, []byte{0x80}, maxBlobStreams},
		{"time", p2p.ProtoTime, []byte{0}, maxTimeStreams},
		{"removed", p2p.ProtoRemoved, []byte{0x80}, maxRemovedStreams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if parked := floodParks(t, flooder, leader.ID(), sender, tc.proto, tc.first); parked > tc.max {
				t.Fatalf("%d of %d %s streams from one peer parked at the leader: the flood is not bounded (max %d)",
					parked, floodCount, tc.proto, tc.max)
			}
		})
	}
}

// floodCount is how many streams a flood opens.
const floodCount = 300

// floodParks opens floodCount streams of proto from flooder to `to`, each
// writing first, checks that a send through sender commits meanwhile, and
// returns how many streams the other end still holds a second later
// (streams over a bound are reset at once; those within it wait for their
// deadline, if any, which outlasts the second).
func floodParks(t *testing.T, flooder *Node, to peer.ID, sender *Node, proto protocol.ID, first []byte) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	streams := make([]network.Stream, 0, floodCount)
	defer func() {
		for _, s := range streams {
			_ = s.Reset()
		}
	}()
	for range floodCount {
		s, err := flooder.host.Host().NewStream(ctx, to, proto)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
		_, _ = s.Write(first)
	}
	if _, err := sender.Send(ctx, "general", "during the flood of "+string(proto)); err != nil {
		t.Fatalf("a send through another member failed during the flood: %v", err)
	}
	var wg sync.WaitGroup
	var reset atomic.Int64
	deadline := time.Now().Add(time.Second)
	for _, s := range streams {
		wg.Go(func() {
			_ = s.SetReadDeadline(deadline)
			if _, err := s.Read(make([]byte, 1)); errors.Is(err, network.ErrReset) {
				reset.Add(1)
			}
		})
	}
	wg.Wait()
	parked := floodCount - reset.Load()
	t.Logf("%s: %d streams reset, %d parked", proto, reset.Load(), parked)
	return parked
}
