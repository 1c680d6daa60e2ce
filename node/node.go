package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/oklog/ulid/v2"

	"concord/blob"
	"concord/consensus"
	"concord/diskspace"
	"concord/dm"
	"concord/failover"
	"concord/p2p"
	"concord/search"
	"concord/storage"
	"concord/timesync"
)

// Config says how to open a member. Only Dir is required.
type Config struct {
	Dir       string           // the member's data dir
	Logger    *slog.Logger     // nil: discard
	Clock     timesync.Clock   // the local clock NTP corrects; nil: the system clock
	Timing    consensus.Timing // zero: consensus.LANTiming
	Bootstrap bool             // bootstrap even if the data dir's config does not say so (a new team)
	Listen    []string         // override the configured listen addresses
	NTP       []string         // override the configured NTP servers

	// NoSearch leaves the full-text index unfed (benchmarks: the
	// replication engine measured without the index's CPU beside it).
	NoSearch bool
	// MaxTeamVersion caps the team version this member raises the team to
	// by itself, when it creates the team or once every member reads a
	// newer one (0: the newest this release writes). Benchmarks use it to
	// measure a team that does not sign its ops yet.
	MaxTeamVersion int
	// DiskInterval is how often the free space is read (0: every 5 s).
	DiskInterval time.Duration
	// DiskFree replaces the free-space reading (nil: the real one).
	DiskFree func(path string) (free, total uint64, err error)
	// DigestInterval is how often state digests are compared with peers
	// (0: every 30 s).
	DigestInterval time.Duration
	// RemovalWatch is how long a removal notice from a peer is checked
	// against the team's log before this member believes it (0: 60 s).
	RemovalWatch time.Duration
	// WrapOutbox, when set, wraps the outbox the delivery loop drains
	// (tests: a crash between two steps of delivery).
	WrapOutbox func(failover.Outbox) failover.Outbox
}

// Node is one running member: the composition root that starts the clock,
// storage, libp2p host and Raft replica, and stops them in reverse.
type Node struct {
	cfg     Config
	conf    MemberConfig
	log     *slog.Logger
	clock   *timesync.Member // corrected: NTP, else the leader's clock, else local
	ntp     *timesync.NTPClock
	store   *storage.Store
	disk    *diskspace.Watcher // the data dir's free space
	host    *p2p.Host
	replica *consensus.Replica

	outbox    *storage.Outbox
	drain     *failover.Drainer
	responder *failover.Responder
	monitor   *failover.Monitor
	digest    *failover.DigestChecker // compares state digests with peers

	team        team
	boxKey      *dm.Key       // this member's X25519 key for private messages
	blobs       *blob.Store   // attachment bytes, DATA/blobs
	search      *search.Index // full-text index, DATA/search.db
	removed     chan struct{} // closed when this member learns it was removed
	removedOnce sync.Once
	confirming  atomic.Bool // a removal notice is being checked
	removal     storage.Removal
	versions    *versions // the releases peers said they run

	ctx       context.Context    // the member's own goroutines run until it is cancelled
	cancel    context.CancelFunc // stops the member's own goroutines
	wg        sync.WaitGroup
	acked     atomic.Uint64 // highest log index this member acknowledged
	channels  sync.Map      // channel known to exist -> its participants (Node.private)
	closeOnce sync.Once
	closeErr  error
}

// Open opens the member in cfg.Dir and joins the team's replication; Close
// stops it. One process may open several members (of one team or of
// several), each with its own data dir.
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = timesync.System{}
	}
	conf, err := LoadConfig(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := RemovedError(cfg.Dir); err != nil {
		return nil, err
	}
	if conf, err = claimDataDir(cfg.Dir, conf); err != nil {
		return nil, err
	}
	psk, err := conf.networkKey()
	if err != nil {
		return nil, err
	}
	box, err := dm.LoadKey(cfg.Dir)
	if err != nil {
		return nil, err
	}
	blobs, err := blob.Open(filepath.Join(cfg.Dir, "blobs"))
	if err != nil {
		return nil, err
	}
	vers, err := loadVersions(cfg.Dir)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, conf: conf, log: cfg.Logger.With("component", "node"), ctx: runCtx, cancel: cancel,
		removed: make(chan struct{}), boxKey: box, blobs: blobs, versions: vers}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.closeParts())
		}
	}()
	servers := conf.NTP
	if len(cfg.NTP) > 0 {
		servers = cfg.NTP
	}
	if err := n.startTime(servers); err != nil {
		return nil, err
	}
	n.store, err = openState(cfg.Dir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if err := n.startDisk(ctx); err != nil {
		return nil, err
	}
	if n.search, err = openSearch(cfg.Dir, n); err != nil {
		return nil, err
	}
	listen := conf.Listen
	if len(cfg.Listen) > 0 {
		listen = cfg.Listen
	}
	n.host, err = p2p.New(ctx, p2p.Config{DataDir: cfg.Dir, Listen: listen, Logger: cfg.Logger, PSK: psk, Closed: true})
	if err != nil {
		return nil, err
	}
	n.refreshTeam()
	// LAN discovery: members find each other after restarts and address
	// changes with no address typed; only members' addresses are kept.
	if _, err := n.host.StartDiscovery(p2p.ServiceName(conf.TeamID), n.discovered); err != nil {
		n.log.Warn("LAN discovery not started", "err", err)
	}
	if !conf.HideFromLAN {
		if _, err := n.host.AnnounceTeam(conf.TeamID, conf.TeamName); err != nil {
			n.log.Warn("team not announced on the LAN", "err", err)
		}
	}
	if err := n.startProbes(); err != nil {
		return nil, err
	}
	n.replica, err = consensus.New(consensus.Config{
		TeamID:    conf.TeamID,
		Host:      n.host.Host(),
		Dir:       filepath.Join(cfg.Dir, "raft"),
		Store:     n.store,
		Clock:     n.clock,
		Logger:    cfg.Logger,
		Bootstrap: conf.Creator || cfg.Bootstrap,
		Timing:    cfg.Timing,
		OnMembers: n.refreshTeam,
		Allow:     n.team.isMember,
		Online:    n.online,
		MaxVoters: conf.Voters,
	})
	if err != nil {
		return nil, err
	}
	n.refreshTeam() // consensus may have brought the store up to a snapshot
	n.responder.Serve(n.host.Host())
	if err := n.startDelivery(); err != nil {
		return nil, err
	}
	if err := n.startDigest(); err != nil {
		return nil, err
	}
	n.host.Host().SetStreamHandler(p2p.ProtoJoin, p2p.Bounded(maxJoinStreams, n.serveJoin))
	n.host.Host().SetStreamHandler(p2p.ProtoRemoved, p2p.Bounded(maxRemovedStreams, n.serveRemoved))
	n.host.Host().SetStreamHandler(p2p.ProtoBlob, p2p.Bounded(maxBlobStreams, n.serveBlob))
	n.host.Host().SetStreamHandler(p2p.ProtoVersion, p2p.Bounded(maxVersionStream, n.serveVersion))
	n.goRun(n.autoFetch)
	if !cfg.NoSearch {
		n.goRun(n.followSearch)
	}
	n.goRun(n.inviteSweep)
	n.goRun(n.askVersions)
	n.runTime(runCtx)
	return n, nil
}

// discovered hears of a peer on the LAN announcing our team's service.
func (n *Node) discovered(ai peer.AddrInfo) {
	if n.team.isMember(ai.ID) {
		n.host.AddPeer(ai.ID, ai.Addrs)
	}
}

// online says whether a member is reachable: its probes answer.
func (n *Node) online(p peer.ID) bool { return p == n.ID() || n.monitor.Healthy(p) }

// goRun runs f in a goroutine that Close stops (through ctx) and waits for.
func (n *Node) goRun(f func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f(n.ctx)
	}()
}

// Close stops the member: Raft (handing leadership over first), the host,
// then storage.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.closeParts() })
	return n.closeErr
}

func (n *Node) closeParts() error {
	var errs []error
	n.cancel()
	n.wg.Wait()
	if n.digest != nil {
		errs = append(errs, n.digest.Close())
	}
	if n.ntp != nil {
		errs = append(errs, n.ntp.Close())
	}
	if n.host != nil {
		n.host.Host().RemoveStreamHandler(p2p.ProtoJoin)
		n.host.Host().RemoveStreamHandler(p2p.ProtoRemoved)
		n.host.Host().RemoveStreamHandler(p2p.ProtoBlob)
		n.host.Host().RemoveStreamHandler(p2p.ProtoTime)
		n.host.Host().RemoveStreamHandler(p2p.ProtoVersion)
	}
	errs = append(errs, n.stopDelivery())
	if n.replica != nil {
		errs = append(errs, n.replica.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.search != nil {
		errs = append(errs, n.search.Close()) // its follower stopped with n.wg
	}
	if n.disk != nil {
		errs = append(errs, n.disk.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// ID is this member's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// newMessageID returns a ULID: unique, and sortable by creation time.
func newMessageID() string { return ulid.Make().String() }

// errChannelUnsure is lookupChannel's answer for a channel this member
// does not know and cannot learn about now.
var errChannelUnsure = errors.New("the channel is not known here, and the leader could not be asked")

// sendTo judges a send to channel before it is queued. It returns the
// channel's participants (nil: public) and whether the channel was judged
// at all: a message to a channel this member could not judge is queued
// like any other, as a public channel's, and the team's log judges it when
// it commits (proposer.confirm): never lost, and never dropped in silence
// (a refusal shows in the outbox with its reason). The name of a private
// conversation ("dm-" and 20 hex digits, dm.Channel) is the exception: its
// text would go out unsealed, so it is refused until the member knows it.
func (n *Node) sendTo(ctx context.Context, channel string) (members []string, judged bool, err error) {
	members, err = n.lookupChannel(ctx, channel)
	if !errors.Is(err, errChannelUnsure) {
		return members, err == nil, err
	}
	if conv, ok := strings.CutPrefix(channel, "dm-"); ok && len(conv) == 20 {
		if _, herr := hex.DecodeString(conv); herr == nil {
			return nil, false, fmt.Errorf("%w: the private conversation %s is not known here yet, so the message "+
				"cannot be sealed for it (%v)", ErrNoQuorum, channel, err)
		}
	}
	n.log.Info("queued a message to a channel not known here yet: the team's log judges it", "channel", channel, "why", err)
	return nil, false, nil
}

// lookupChannel returns channel's participants (nil: public). Channels are
// never deleted, so a channel seen once is cached. A channel this member
// does not know may still exist: the member may be catching up (just
// started, its state rebuilt or reset). So it first applies what raft has
// handed it, then asks the leader how far the team is and applies that
// much too; a channel it still does not know then is refused (ErrInvalid),
// at once when the member was caught up. When it cannot learn how far the
// team is (no leader, the leader unreachable or of an older release, ctx
// over) it says so: errChannelUnsure.
func (n *Node) lookupChannel(ctx context.Context, channel string) ([]string, error) {
	if members, err := n.private(channel); err == nil {
		return members, nil
	}
	if err := n.caughtUp(ctx); err != nil {
		return nil, fmt.Errorf("%w (%v)", errChannelUnsure, err)
	}
	if members, err := n.private(channel); err == nil {
		return members, nil
	}
	if n.blocked() != nil {
		// Stopped at an entry for a newer release: the channel may be
		// after it. The message waits in the outbox for the upgrade.
		return nil, fmt.Errorf("%w (this member is waiting for an upgrade)", errChannelUnsure)
	}
	index, err := n.replica.LeaderHanded(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", errChannelUnsure, err)
	}
	if err := n.replica.WaitApplied(ctx, index); err != nil {
		return nil, fmt.Errorf("%w (catching up with the leader: %v)", errChannelUnsure, err)
	}
	members, err := n.private(channel)
	if err != nil {
		return nil, fmt.Errorf("%w: channel %q: %v", ErrInvalid, channel, err)
	}
	return members, nil
}

// noteAcked remembers the highest index this member acknowledged, so that
// its later reads include it (read-your-writes).
func (n *Node) noteAcked(index uint64) {
	for {
		cur := n.acked.Load()
		if index <= cur || n.acked.CompareAndSwap(cur, index) {
			return
		}
	}
}

// caughtUp waits until the local store has applied everything this member
// acknowledged and everything raft has handed to it (monotonic reads).
func (n *Node) caughtUp(ctx context.Context) error {
	if n.blocked() != nil {
		// Stopped at an entry for a newer release: what it has is a
		// prefix of the team's history, served as it is until upgraded.
		return nil
	}
	want := max(n.acked.Load(), n.replica.Handed())
	if err := n.replica.WaitApplied(ctx, want); err != nil {
		return fmt.Errorf("local state is behind the log (applied %d of %d): %w", n.store.AppliedIndex(), want, err)
	}
	return nil
}

// commit submits op, a team change this member's user asked for (a
// channel, a conversation, an invite, a role, a removal, a pin, a name, a
// raise of the team version), and waits until this member has applied it.
// On a full disk it is refused with ErrDiskFull before anything is
// proposed, like a send: the room left is for the team's entries this
// member must store, and a change committed that this member then cannot
// apply would leave its user waiting with no answer.
func (n *Node) commit(ctx context.Context, op storage.Op) (storage.Result, error) {
	if err := n.roomFor(ctx, 0); err != nil {
		return storage.Result{}, err
	}
	return n.commitAuto(ctx, op)
}

// commitAuto is commit without the disk check, for the entries a member
// proposes on its own or for someone else, which no user of this member
// is there to be refused: the first entries of a new team (initTeam), a
// joiner's admission (serveJoin: the joiner asked, and this member's disk
// must not turn it away), the leader's raise of the team version once
// every member reads it. Each is one small entry, no more than the
// entries from others that the room below "full" is kept for.
func (n *Node) commitAuto(ctx context.Context, op storage.Op) (storage.Result, error) {
	res, index, err := n.replica.Submit(ctx, op)
	if errors.Is(err, consensus.ErrNoLeader) {
		return res, fmt.Errorf("%w: %w", ErrNoQuorum, err)
	}
	if err != nil {
		return res, err
	}
	n.noteAcked(index)
	if res.Err != "" {
		return res, fmt.Errorf("%w: %s", ErrInvalid, res.Err)
	}
	if err := n.replica.WaitApplied(ctx, index); err != nil {
		return res, fmt.Errorf("committed at index %d but not yet applied here: %w", index, err)
	}
	if op.Kind.ChangesTeam() {
		// The applier recomputes the team (who may connect) only after it
		// has woken WaitApplied's waiters: do it now, so that an invite's
		// key is admitted, or a removed member refused, when this returns.
		n.refreshTeam()
	}
	return res, nil
}

// CreateChannel creates a channel through the log.
func (n *Node) CreateChannel(ctx context.Context, name string) error {
	if err := storage.ValidChannelName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	_, err := n.commit(ctx, storage.Op{Kind: storage.OpCreateChannel, By: n.ID().String(), Channel: name})
	return err
}

// History returns up to limit of the latest messages of channel (all when
// limit is 0), oldest first, including everything this member has sent.
func (n *Node) History(ctx context.Context, channel string, limit int) ([]storage.Message, error) {
	if err := n.caughtUp(ctx); err != nil {
		return nil, err
	}
	return n.readable(channel, storage.Query{Limit: limit})
}

// Channels lists the team's channels.
func (n *Node) Channels(ctx context.Context) ([]storage.Channel, error) {
	if err := n.caughtUp(ctx); err != nil {
		return nil, err
	}
	chans, err := n.store.Channels()
	return n.visible(chans), err
}

// MemberRecords lists the team's member records as the log has them
// (addresses, keys, join times); Members adds suffrage and liveness.
func (n *Node) MemberRecords() ([]storage.Member, error) { return n.store.Members() }

// WaitLeader blocks until the team has a leader.
func (n *Node) WaitLeader(ctx context.Context) (peer.ID, error) { return n.replica.WaitLeader(ctx) }

// initTeam makes a just-bootstrapped member the team's first admin,
// creates #general and sets the team version to this release's newest.
func (n *Node) initTeam(ctx context.Context) error {
	if _, err := n.WaitLeader(ctx); err != nil {
		return fmt.Errorf("new team did not elect its first member: %w", err)
	}
	self := storage.Member{ID: n.ID().String(), Name: n.conf.Name, Role: storage.RoleAdmin,
		Addrs: n.host.Addrs(), JoinedAt: n.clock.Now().UTC(), BoxKey: n.boxKey.PublicString()}
	if _, err := n.commitAuto(ctx, storage.Op{Kind: storage.OpAddMember, By: self.ID, Member: &self}); err != nil {
		return err
	}
	if _, err := n.commitAuto(ctx, storage.Op{Kind: storage.OpCreateChannel, By: self.ID, Channel: "general"}); err != nil {
		return err
	}
	// A new team has only this member: it starts at the newest protocol.
	_, err := n.raiseTeamVersion(ctx, n.maxTeamVersion(), n.commitAuto)
	return err
}

// boundListen returns the addresses the host actually listens on (with the
// ports the OS picked), so a restart can bind the same ones.
func (n *Node) boundListen() []string {
	var out []string
	for _, a := range n.host.Host().Network().ListenAddresses() {
		out = append(out, a.String())
	}
	return out
}
