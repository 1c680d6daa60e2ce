package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// ErrNoLeader is returned by Baseline.Apply when no node is leader.
var ErrNoLeader = errors.New("bench: baseline has no leader")

// ErrClosed is returned by Baseline.Apply after Close.
var ErrClosed = errors.New("bench: baseline closed")

// logCacheSize is the baseline's log cache, Consul's and rqlite's size.
const logCacheSize = 512

// leaderWait bounds how long StartBaseline waits for the first leader.
const leaderWait = 10 * time.Second

// Baseline is an in-process cluster of raw hashicorp/raft nodes on loopback
// TCP with raft-boltdb stores, the yardstick Concord is measured against.
// Its methods are safe for concurrent use.
type Baseline struct {
	nodes []*node

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // apply waiters started by Apply

	closeOnce sync.Once
	closeErr  error
}

// node is one member of the baseline cluster and the resources it owns.
type node struct {
	id    raft.ServerID
	raft  *raft.Raft // nil until started
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
	logs  raft.LogStore // store behind a LogCache, as Consul and rqlite run it
	snaps *raft.FileSnapshotStore
	fsm   *counterFSM
}

// StartBaseline starts n raft nodes in-process, each with a TCP transport on
// an ephemeral 127.0.0.1 port, a raft-boltdb store (fsync on) as log and
// stable store, the log behind raft.NewLogCache(512) as Consul and rqlite
// run it and a file snapshot store, all under dir/nodeI, configured
// with LANConfig. Node 0 bootstraps the cluster with all n as voters, and
// StartBaseline returns once a leader is elected, or fails when ctx ends or
// ten seconds pass without one. On failure everything started is shut down.
func StartBaseline(ctx context.Context, dir string, n int) (*Baseline, error) {
	if n < 1 {
		return nil, fmt.Errorf("bench: baseline needs at least 1 node, got %d", n)
	}
	b := &Baseline{}
	fail := func(err error) (*Baseline, error) {
		return nil, errors.Join(err, b.Close())
	}

	var cfg raft.Configuration
	for i := range n {
		id := raft.ServerID(fmt.Sprintf("node%d", i))
		nd, err := openNode(id, filepath.Join(dir, string(id)))
		if err != nil {
			return fail(err)
		}
		b.nodes = append(b.nodes, nd)
		cfg.Servers = append(cfg.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       id,
			Address:  nd.trans.LocalAddr(),
		})
	}
	for _, nd := range b.nodes {
		r, err := raft.NewRaft(LANConfig(string(nd.id)), nd.fsm, nd.logs, nd.store, nd.snaps, nd.trans)
		if err != nil {
			return fail(fmt.Errorf("bench: start %s: %w", nd.id, err))
		}
		nd.raft = r
	}
	if err := b.nodes[0].raft.BootstrapCluster(cfg).Error(); err != nil {
		return fail(fmt.Errorf("bench: bootstrap: %w", err))
	}
	if err := b.waitLeader(ctx); err != nil {
		return fail(err)
	}
	return b, nil
}

// openNode creates dir and opens a node's stores and transport in it; the
// raft instance is started later, once every node's address is known.
func openNode(id raft.ServerID, dir string) (*node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %s dir: %w", id, err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 1, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("bench: %s snapshot store: %w", id, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("bench: %s boltdb: %w", id, err)
	}
	trans, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 10*time.Second, hclog.NewNullLogger())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: %s transport: %w", id, err), store.Close())
	}
	// Consul and rqlite keep the last entries in memory in front of
	// raft-boltdb; so does Concord (1,024 entries): a baseline
	// without it reads back what it just wrote and flatters Concord.
	logs, err := raft.NewLogCache(logCacheSize, store)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: %s log cache: %w", id, err), trans.Close(), store.Close())
	}
	return &node{id: id, trans: trans, store: store, logs: logs, snaps: snaps, fsm: &counterFSM{}}, nil
}

// waitLeader polls until some node is leader, ctx ends or leaderWait passes.
func (b *Baseline) waitLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for b.leader() == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for a leader: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}

// leader returns the raft instance that currently believes it is leader,
// or nil.
func (b *Baseline) leader() *raft.Raft {
	for _, nd := range b.nodes {
		if nd.raft != nil && nd.raft.State() == raft.Leader {
			return nd.raft
		}
	}
	return nil
}
