//go:build !headless

package backend

// This package is left out of the headless build like package app itself:
// linking app pulls Fyne's widgets in (15 MB more in the static binary),
// which an always-on member or a FROM scratch image has no use for.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"concord/app"
	"concord/control"
	"concord/failover"
	_ "concord/internal/fynelocale" // before Fyne's init: no locale error under LANG=C
	"concord/node"
	"concord/storage"
	"concord/version"
)

const (
	guiListen  = "/ip4/0.0.0.0/tcp/0"
	replayPoll = 100 * time.Millisecond
)

var errNoMemberYet = errors.New("this member is not running yet: create or join a team first")

// Backend is the window's app.Backend over a node.Node that it opens
// (Start) or creates first (CreateTeam, JoinTeam), and closes (Close).
type Backend struct {
	dir     string
	log     *slog.Logger
	control bool     // serve the CLI's control socket while the node runs
	show    func()   // Config.Show
	listen  []string // listen addresses for a new member (default guiListen)
	ntp     []string // NTP servers for a new member (default: public pools)

	confMu sync.Mutex // serialises config.json rewrites

	mu      sync.Mutex // guards everything below
	n       *node.Node
	cs      *control.Server
	cancel  context.CancelFunc // stops the event pump
	closed  bool
	subs    map[int]*subscriber
	nextSub int

	started chan struct{} // closed once the node runs

	wg    sync.WaitGroup // the event pump goroutines
	drops atomic.Uint64  // events dropped because a subscriber was full
}

var _ app.Backend = (*Backend)(nil)

// Config says how to make a Backend.
type Config struct {
	Dir     string       // the member's data dir (it may hold no member yet)
	Logger  *slog.Logger // nil: discard
	Control bool         // serve the CLI's control socket while the member runs
	Listen  []string     // listen addresses for a new member (default guiListen)
	NTP     []string     // NTP servers for a new member (default: public pools)
	// Show, if set, is called when the app is started again on this data
	// dir (POST /v1/show on the control socket): bring the window forward.
	Show func()
}

// New makes the window's backend for the member in cfg.Dir; Start (or
// CreateTeam, JoinTeam) starts the member.
func New(cfg Config) *Backend {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backend{dir: cfg.Dir, log: log.With("component", "gui-backend"), control: cfg.Control, show: cfg.Show,
		listen: cfg.Listen, ntp: cfg.NTP, subs: map[int]*subscriber{}, started: make(chan struct{})}
}

// Dir is the member's data dir.
func (b *Backend) Dir() string { return b.dir }

// HasMember reports whether the data dir already holds a member.
func (b *Backend) HasMember() bool {
	return node.HasMember(b.dir)
}

// Start starts the Node on the data dir, then the control socket and the
// event pump.
func (b *Backend) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("closed")
	}
	if b.n != nil {
		return nil
	}
	// The node lives as long as the backend, not as long as one call.
	n, err := node.Open(context.Background(), node.Config{Dir: b.dir, Logger: b.log})
	if err != nil {
		return err
	}
	if b.control {
		cs, err := control.Listen(n, b.dir, b.log)
		if err != nil {
			return errors.Join(err, n.Close())
		}
		if b.show != nil {
			cs.OnShow(b.show)
		}
		b.cs = cs
	}
	b.n = n
	close(b.started)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.pump(ctx, n)
	}()
	b.log.Info("member running", "peer", n.ID(), "team", n.TeamName(), "addrs", strings.Join(n.Addrs(), " "))
	return nil
}

// teamStateWait bounds how long waitTeamState waits.
const teamStateWait = 15 * time.Second

// WaitTeamState waits (at most teamStateWait) until the store holds the
// team's channels. A member that just joined starts with an empty store and
// the chat view opens the first channel it lists only once, at start, so
// the window waits for the first replicated entries before it shows the
// chat. Offline, it gives up and the chat shows what there is.
func (b *Backend) WaitTeamState(ctx context.Context) {
	n, err := b.node()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, teamStateWait)
	defer cancel()
	if err := n.WaitChannels(ctx); err != nil {
		b.log.Warn("no channels replicated yet; showing the chat anyway", "err", err)
	}
}

// WaitReplayed waits until raft has applied every entry it knows to be
// committed: after a start, until the log has been replayed. It polls (raft
// offers no notification) every replayPoll.
func (b *Backend) WaitReplayed(ctx context.Context) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return n.WaitReplayed(ctx, replayPoll)
}

// node returns the running node, or errNoMemberYet.
func (b *Backend) node() (*node.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		return nil, errNoMemberYet
	}
	return b.n, nil
}

// Started is closed once the node runs.
func (b *Backend) Started() <-chan struct{} { return b.started }

// Removed is closed when the node learns it was removed from the team;
// nil channel while no node runs.
func (b *Backend) Removed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		return nil
	}
	return b.n.Removed()
}

// Close stops the event pump, closes subscribers, the control socket and
// the Node (which hands leadership over first). Idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	n, cs, cancel := b.n, b.cs, b.cancel
	for id, sub := range b.subs {
		close(sub.ch)
		delete(b.subs, id)
	}
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	b.wg.Wait()
	var errs []error
	if cs != nil {
		ctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, cs.Close(ctx))
		c()
	}
	if n != nil {
		errs = append(errs, n.Close())
	}
	if d := b.drops.Load(); d > 0 {
		b.log.Info("events dropped for slow subscribers", "count", d)
	}
	return errors.Join(errs...)
}

// Send implements app.Backend.
func (b *Backend) Send(ctx context.Context, channel, text string) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	id, err := n.Send(ctx, channel, text)
	if errors.Is(err, node.ErrQueued) {
		return id, fmt.Errorf("%w (%w)", app.ErrQueued, err)
	}
	return id, err
}

// Retry implements app.Backend.
func (b *Backend) Retry(ctx context.Context, id string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	err = n.Retry(ctx, id)
	if errors.Is(err, node.ErrQueued) {
		return fmt.Errorf("%w (%w)", app.ErrQueued, err)
	}
	return err
}

// History implements app.Backend.
func (b *Backend) History(ctx context.Context, channel string, before uint64, limit int) ([]storage.Message, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	return n.HistoryBefore(ctx, channel, before, limit)
}

// Channels implements app.Backend.
func (b *Backend) Channels(ctx context.Context) ([]storage.Channel, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	return n.Channels(ctx)
}

// CreateChannel implements app.Backend.
func (b *Backend) CreateChannel(ctx context.Context, name string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	if n.HasChannel(name) {
		return nil
	}
	return n.CreateChannel(ctx, name)
}

// Members implements app.Backend.
func (b *Backend) Members(ctx context.Context) ([]app.Member, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	rows, err := n.Members(ctx)
	if err != nil {
		return nil, err
	}
	leader := n.Leader()
	out := make([]app.Member, len(rows))
	for i, r := range rows {
		out[i] = app.Member{ID: r.ID, Name: r.Name, Role: r.Role, Voter: r.Voter, Online: r.Online, Leader: r.ID == leader,
			Release: r.Release}
	}
	return out, nil
}

// RemoveMember implements app.Backend.
func (b *Backend) RemoveMember(ctx context.Context, id string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return n.RemoveMember(ctx, id)
}

// Status implements app.Backend.
func (b *Backend) Status(ctx context.Context) (app.Status, error) {
	n, err := b.node()
	if err != nil {
		return app.Status{}, err
	}
	st := n.Status()
	out := app.Status{Self: st.ID, Team: st.Team, Role: st.Role, Leader: st.Leader, Voters: st.Voters,
		Total: len(st.Peers), ClockSource: st.Clock.Source, ClockOffset: st.Clock.Offset,
		Disk: app.DiskState(st.Disk.Level), DiskFree: st.Disk.Free, Queued: st.Outbox,
		Release: st.Release, TeamVersion: st.TeamVersion}
	if b := st.BlockedOnUpgrade; b != nil {
		out.Upgrade = version.NeedsUpgrade(b.Release)
	}
	for _, p := range st.Peers {
		if p.Healthy {
			out.Connected++
		}
	}
	if st.Storage.Reason != "" {
		out.Storage = st.Storage.Reason
	} else {
		out.Storage = divergedSentence(st.Consistency)
	}
	return out, nil
}

// Invite implements app.Backend.
func (b *Backend) Invite(ctx context.Context) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	return n.Invite(ctx, node.DefaultInviteTTL)
}

// CreateTeam implements app.Backend: what `concord init` does, then run.
func (b *Backend) CreateTeam(ctx context.Context, team, name string) error {
	if _, err := node.Create(ctx, node.Config{Dir: b.dir, Logger: b.log, Listen: b.listenAddrs(), NTP: b.ntp}, team, name); err != nil {
		return err
	}
	return b.Start()
}

// JoinTeam implements app.Backend: what `concord join` does, then run.
func (b *Backend) JoinTeam(ctx context.Context, code, name string) error {
	_, err := node.Join(ctx, b.dir, name, strings.TrimSpace(code), b.listenAddrs(), b.ntp)
	if errors.Is(err, node.ErrBadInvite) { // malformed, expired, or refused by the team
		return fmt.Errorf("%w (%w)", app.ErrBadInvite, err)
	}
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	b.WaitTeamState(ctx)
	return nil
}

func (b *Backend) listenAddrs() []string {
	if len(b.listen) > 0 {
		return b.listen
	}
	return []string{guiListen}
}

// divergedSentence is the window's sentence for a member whose history
// differs from the team's; "" otherwise.
func divergedSentence(c failover.Consistency) string {
	if c.State != failover.ConsistencyDiverged || c.DivergedAt == 0 {
		return ""
	}
	return fmt.Sprintf("This member's history differs from the team's at index %d.", c.DivergedAt)
}
