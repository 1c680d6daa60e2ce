package consensus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
	gostream "github.com/libp2p/go-libp2p-gostream"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/p2p"
)

// raftPool is how many idle Raft streams the transport keeps per peer.
//
// go-libp2p-raft's transport keeps none (MaxPool 0): every RPC outside the
// pipeline, heartbeats above all (one per follower every 50-100 ms), opened
// a new libp2p stream and allocated new 4 KiB-and-up buffers for it, which
// with the garbage collector it woke was most of an idle leader's CPU
// (issue 23, pprof). The heartbeat goroutine and the replication goroutine
// each use one at a time, so two per peer are enough; the wire protocol is
// the same, and a member of an older release serves any number of RPCs on
// one stream (raft's handleConn loops).
const raftPool = 2

// newRaftTransport is go-libp2p-raft's transport (NewLibp2pTransport: the
// same protocol, /raft/1.0.0/rpc, and addresses, peer IDs) with idle
// streams pooled.
func newRaftTransport(h host.Host, timeout time.Duration, log *slog.Logger) (*raft.NetworkTransport, error) {
	l, err := gostream.Listen(h, p2p.ProtoRaft)
	if err != nil {
		return nil, err
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: peerAddrs{},
		Logger:                newHclog(log, "transport"),
		Stream:                &streamLayer{h: h, l: l},
		MaxPool:               raftPool,
		Timeout:               timeout,
	}), nil
}

// peerAddrs makes a server's address its peer ID, as go-libp2p-raft does.
type peerAddrs struct{}

func (peerAddrs) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	return raft.ServerAddress(id), nil
}

// streamLayer dials and accepts Raft streams over libp2p.
type streamLayer struct {
	h host.Host
	l net.Listener
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	pid, err := peer.Decode(string(address))
	if err != nil {
		return nil, errors.Join(errors.New("consensus: a Raft address that is no peer ID"), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return gostream.Dial(ctx, s.h, pid, p2p.ProtoRaft)
}

func (s *streamLayer) Accept() (net.Conn, error) { return s.l.Accept() }
func (s *streamLayer) Close() error              { return s.l.Close() }
func (s *streamLayer) Addr() net.Addr            { return s.l.Addr() }
