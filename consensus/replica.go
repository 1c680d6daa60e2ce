package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/p2p"
	"concord/storage"
	"concord/timesync"
)

// Config configures a member's consensus engine.
type Config struct {
	// TeamID is the team's ID: every signed op binds it (sign.go), so a
	// signature made for one team means nothing in another. Required.
	TeamID    string
	Host      host.Host      // the member's libp2p host; Raft and forwarding run over it
	Dir       string         // the Raft log, stable store and snapshots live here
	Store     *storage.Store // the chat state the FSM applies entries to
	Clock     timesync.Clock // stamps commit times on the leader
	Logger    *slog.Logger
	Bootstrap bool   // a new team: bootstrap a cluster with this member as its only voter
	MaxVoters int    // members beyond this join as non-voters (default 3)
	Timing    Timing // Raft timeouts (default LANTiming)
	// OnMembers is called after an entry that changed the member list was
	// applied (from Raft's apply goroutine: it must not block).
	OnMembers func()
	// Allow says whether a peer may talk Raft to this member, forward
	// proposals to it and ask for its stats or its seat (the team's
	// members). Required, with no default: New and Validate refuse a nil
	// Allow, so a forgotten one fails closed (an error) rather than
	// admitting every peer. Recover, which serves no peer, ignores it.
	Allow func(peer.ID) bool
	// Online says whether a member is reachable now (the node's probes);
	// autopilot retires voters that are not. Default: connected.
	Online func(peer.ID) bool
}

// Timing holds the Raft timeouts. The defaults suit desktops on one LAN.
type Timing struct {
	Heartbeat   time.Duration
	Election    time.Duration
	LeaderLease time.Duration
	// Commit is raft's CommitTimeout: how long an idle leader waits before
	// it sends each follower an AppendEntries with nothing new. Followers
	// learn commits from commitPush as they happen, so it is long: a short
	// one made an idle leader send every follower an AppendEntries every
	// few milliseconds (issue 23).
	Commit time.Duration
	// SnapshotThreshold and TrailingLogs override raft's defaults (8192 and
	// 10240 entries) when set; tests make them small to exercise snapshots.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// Stabilization is how long a member must stay healthy before
	// autopilot promotes it to voter (default 10 s).
	Stabilization time.Duration
	// WALSegment is the size of a Raft log segment file (default 8 MiB);
	// tests make it small so that the log rotates and frees segments.
	WALSegment int
}

// LANTiming returns timeouts tuned for a LAN: failure noticed in about half a
// second; followers see commits as soon as they are pushed (commitPush).
func LANTiming() Timing {
	return Timing{Heartbeat: 500 * time.Millisecond, Election: 500 * time.Millisecond,
		LeaderLease: 250 * time.Millisecond, Commit: 500 * time.Millisecond}
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = timesync.System{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxVoters == 0 {
		c.MaxVoters = 3
	}
	if c.Timing.Heartbeat == 0 {
		t := LANTiming()
		t.SnapshotThreshold, t.TrailingLogs, t.Stabilization = c.Timing.SnapshotThreshold, c.Timing.TrailingLogs, c.Timing.Stabilization
		t.WALSegment = c.Timing.WALSegment
		c.Timing = t
	}
	if c.Timing.WALSegment == 0 {
		c.Timing.WALSegment = defaultWALSegment
	}
	if c.OnMembers == nil {
		c.OnMembers = func() {}
	}
	if c.Online == nil {
		c.Online = func(p peer.ID) bool { return c.Host.Network().Connectedness(p) == network.Connected }
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Host == nil:
		return errors.New("consensus: Config.Host is required")
	case c.Dir == "":
		return errors.New("consensus: Config.Dir is required")
	case c.Store == nil:
		return errors.New("consensus: Config.Store is required")
	case c.TeamID == "":
		return errors.New("consensus: Config.TeamID is required (signed ops bind it)")
	case c.Allow == nil:
		return errors.New("consensus: Config.Allow is required (no default: say which peers are the team's members)")
	case c.MaxVoters < 1:
		return errors.New("consensus: MaxVoters must be at least 1")
	}
	return nil
}

// Tunables of group commit and forwarding.
const (
	maxBatchOps     = 1024             // ops in one Raft entry
	maxLeaderFlight = 4                // Raft entries in flight from the batcher
	flushTimeout    = 5 * time.Second  // one entry or forward request
	transportTO     = 10 * time.Second // Raft RPC I/O deadline
	logCacheSize    = 1024             // recent Raft entries kept in memory
)

// Replica is this member's Raft node: it replicates the chat log, applies it
// to the store, and routes proposals to whoever leads.
type Replica struct {
	cfg    Config
	log    *slog.Logger
	raft   *raft.Raft
	trans  closingTransport
	logs   *logStore  // the Raft log and stable store
	snaps  *snapStore // the Raft snapshots
	fsm    *fsm
	push   *commitPush // tells followers commits as they happen
	local  *batcher    // proposals applied here while leader
	fwd    *batcher    // proposals forwarded to the leader
	leader *notifier
	// leaderID is the last leader ID decoded from raft's string form:
	// Submit asks who leads for every op, and decoding took 5% of the
	// engine's CPU under load.
	leaderID atomic.Pointer[decodedID]
	hlc      *timesync.HLC // commit times stamped while leading
	sign     signer        // signs this member's ops (protocol 4)
	nudge    chan struct{} // membership changed: reconcile the Raft configuration
	pilot    *pilot        // autopilot, running while this member leads

	done      chan struct{} // closed when Close starts: proposers stop retrying
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens the Raft log in cfg.Dir and starts the member's Raft node.
func New(cfg Config) (*Replica, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, log: cfg.Logger.With("component", "consensus"),
		leader: newNotifier(), nudge: make(chan struct{}, 1), done: make(chan struct{}),
		hlc:  &timesync.HLC{Clock: cfg.Clock},
		sign: signer{team: cfg.TeamID, id: cfg.Host.ID().String(), key: cfg.Host.Peerstore().PrivKey(cfg.Host.ID()), made: newMadeSigs()}}
	if err := r.open(); err != nil {
		return nil, errors.Join(err, r.closeParts())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.local = newBatcher(r.startLocal, maxBatchOps, maxLeaderFlight, flushTimeout)
	r.fwd = newBatcher(r.startForward, maxBatchOps, 1, flushTimeout)
	r.pilot = newPilot(r)
	cfg.Host.SetStreamHandler(p2p.ProtoPropose, p2p.Bounded(maxForwardStreams, r.serveForward))
	// Members only, like the Raft streams (forwarding answers outsiders
	// itself, with a reason).
	admitHost{cfg.Host, cfg.Allow}.SetStreamHandler(p2p.ProtoStats, p2p.Bounded(maxStatsStreams, r.serveStats))
	admitHost{cfg.Host, cfg.Allow}.SetStreamHandler(p2p.ProtoLeave, p2p.Bounded(maxLeaveStreams, r.serveLeave))
	r.goRun(func() { r.local.run(ctx) })
	r.goRun(func() { r.fwd.run(ctx) })
	r.goRun(func() { r.watch(ctx) })
	r.goRun(func() { r.healLog(ctx) })
	return r, nil
}

func (r *Replica) goRun(f func()) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); f() }()
}

func (r *Replica) open() error {
	cfg := r.cfg
	logs, snaps, err := openStores(cfg.Dir, cfg.Timing.WALSegment, r.log)
	if errors.Is(err, ErrLogDamaged) {
		// Committed entries rotted: never truncate them, fetch them from
		// the team (RepairLog sets the log aside and keeps this member
		// from voting until it has caught up).
		rep, rerr := RepairLog(cfg.Dir, r.log)
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		r.log.Error("the Raft log was damaged: set aside; fetching its entries from the team", "err", err, "kept_as", rep.Aside)
		logs, snaps, err = openStores(cfg.Dir, cfg.Timing.WALSegment, r.log)
	}
	if err != nil {
		return err
	}
	r.logs, r.snaps = logs, snaps
	if err := catchUpStore(cfg.Store, logs, snaps, r.log); err != nil {
		return err
	}
	trans, err := newRaftTransport(boundedHost{admitHost{cfg.Host, cfg.Allow}, maxRaftStreams}, transportTO, r.log)
	if err != nil {
		return fmt.Errorf("consensus: raft transport: %w", err)
	}
	r.push = newCommitPush()
	r.trans = guardVotes(drainedTransport{trans, r.push, newHeartbeatPacer()}, cfg.Dir, holds(logs, snaps), r.log)
	r.fsm = newFSM(cfg.TeamID, cfg.Store, logs, r.log, r.stalled, func() { r.nudgeReconcile(); cfg.OnMembers() })
	r.fsm.verify.made = r.sign.made // its own signatures need no second check
	r.fsm.onHanded = r.push.committed
	rc := raftConfig(cfg, r.log)
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, logs, snaps)
		if err != nil {
			return fmt.Errorf("consensus: read raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: raft.ServerAddress(rc.LocalID)}}}
			err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, conf)
			if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
				return fmt.Errorf("consensus: bootstrap: %w", err)
			}
		}
	}
	// Recent entries stay in memory, so replication and the FSM do not read
	// back and decode what was just written.
	cached, err := raft.NewLogCache(logCacheSize, logs)
	if err != nil {
		return fmt.Errorf("consensus: log cache: %w", err)
	}
	ra, err := raft.NewRaft(rc, r.fsm, cached, logs, snaps, r.trans)
	if err != nil {
		return fmt.Errorf("consensus: start raft: %w", err)
	}
	r.raft = ra
	r.push.setIndex(ra.CommitIndex)
	return nil
}

// openStores opens the Raft log and stable store and the snapshot store
// in dir.
func openStores(dir string, segSize int, log *slog.Logger) (*logStore, *snapStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("consensus: %w", err)
	}
	logs, err := openLogStore(dir, segSize, log)
	if err != nil {
		return nil, nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, newHclog(log, "snapshot"))
	if err != nil {
		_ = logs.Close()
		return nil, nil, fmt.Errorf("consensus: open snapshots: %w", err)
	}
	return logs, &snapStore{SnapshotStore: snaps}, nil
}

// raftConfig is hashicorp/raft's configuration for this member.
func raftConfig(cfg Config, log *slog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Host.ID().String())
	rc.Logger = newHclog(log, "raft")
	rc.HeartbeatTimeout = cfg.Timing.Heartbeat
	rc.ElectionTimeout = cfg.Timing.Election
	rc.LeaderLeaseTimeout = cfg.Timing.LeaderLease
	rc.CommitTimeout = cfg.Timing.Commit
	rc.BatchApplyCh = true
	if cfg.Timing.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.Timing.SnapshotThreshold
		rc.SnapshotInterval = 200 * time.Millisecond
	}
	if cfg.Timing.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.Timing.TrailingLogs
	}
	rc.MaxAppendEntries = 256
	// The FSM is persistent and skips entries it already applied, so a
	// restart need not reload the last snapshot.
	rc.NoSnapshotRestoreOnStart = true
	return rc
}

// Close hands leadership over if this member leads, stops Raft and waits for
// every goroutine the replica started. It is safe to call more than once.
func (r *Replica) Close() error {
	r.closeOnce.Do(func() {
		close(r.done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := r.TransferLeadership(ctx); err != nil {
			r.log.Warn("leadership transfer failed", "err", err)
		}
		cancel()
		r.handOverSeat()
		r.stopHandlers()
		r.cancel()
		r.wg.Wait()
		r.closeErr = r.closeParts()
	})
	return r.closeErr
}

// shutdownGrace is how long Close waits for Raft to stop before it cuts the
// connections to the other members.
const shutdownGrace = 5 * time.Second

// shutdownRaft stops Raft. Its pipelined AppendEntries writes to a peer
// with no deadline, so a peer that stopped reading (gone, frozen) could
// hold Raft's Shutdown, which waits for every replication goroutine,
// forever; after shutdownGrace the member's connections are closed, which
// fails that write.
func (r *Replica) shutdownRaft() error {
	done := make(chan error, 1)
	go func() { done <- r.raft.Shutdown().Error() }()
	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	net := r.cfg.Host.Network()
	r.log.Warn("Raft shutdown is stuck: closing the connections to the other members", "after", shutdownGrace)
	for _, p := range net.Peers() {
		_ = net.ClosePeer(p)
	}
	return <-done
}

func (r *Replica) closeParts() error {
	var errs []error
	if r.raft != nil {
		errs = append(errs, r.shutdownRaft())
	}
	if r.fsm != nil {
		r.fsm.close() // after raft: nothing queues any more
	}
	if r.push != nil {
		r.push.close() // after raft: no pipeline is open
	}
	if r.trans != nil {
		errs = append(errs, r.trans.Close())
	}
	if r.logs != nil {
		errs = append(errs, r.logs.Close())
	}
	return errors.Join(errs...)
}

// Abort stops the replica without handing leadership over, as a crash
// would; the chaos and failover tests use it. Like Close it waits for the
// replica's goroutines, and it is safe to call once either has been.
func (r *Replica) Abort() error {
	r.closeOnce.Do(func() {
		close(r.done)
		r.stopHandlers()
		r.cancel()
		r.wg.Wait()
		r.closeErr = r.closeParts()
	})
	return r.closeErr
}

func (r *Replica) stopHandlers() {
	r.cfg.Host.RemoveStreamHandler(p2p.ProtoPropose)
	r.cfg.Host.RemoveStreamHandler(p2p.ProtoStats)
	r.cfg.Host.RemoveStreamHandler(p2p.ProtoLeave)
}

// TransferLeadership hands leadership to another voter, so the team does
// not wait for an election timeout (a leader that quits cleanly does it
// first). It does nothing on a follower or a lone voter.
func (r *Replica) TransferLeadership(ctx context.Context) error {
	if r.raft.State() != raft.Leader {
		return nil
	}
	voters, _ := r.Configuration()
	if len(voters) < 2 {
		return nil
	}
	return waitFuture(ctx, r.raft.LeadershipTransfer())
}

// TransferLeadershipTo hands leadership to the voter id (a test, or an
// operator choosing the leader). It does nothing on a follower.
func (r *Replica) TransferLeadershipTo(ctx context.Context, id peer.ID) error {
	if r.raft.State() != raft.Leader {
		return nil
	}
	return waitFuture(ctx, r.raft.LeadershipTransferToServer(raft.ServerID(id.String()), raft.ServerAddress(id.String())))
}

// waitFuture waits for a Raft future with our own deadline: raft.Apply's
// timeout covers only enqueueing, and a future can hang after leadership
// loss (hashicorp/raft#498).
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
