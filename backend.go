//go:build !headless

package main

// guiBackend adapts a Node to app.Backend for the window (gui.go). It is
// left out of the headless build like package app itself: linking app pulls
// Fyne's widgets in (15 MB more in the static binary), which an always-on
// member or a FROM scratch image has no use for.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"concord/app"
	_ "concord/internal/fynelocale" // before Fyne's init: no locale error under LANG=C
	"concord/storage"
)

const (
	guiListen  = "/ip4/0.0.0.0/tcp/0"
	replayPoll = 100 * time.Millisecond
)

var errNoMemberYet = errors.New("this member is not running yet: create or join a team first")

type guiBackend struct {
	dir     string
	log     *slog.Logger
	control bool     // serve the CLI's control socket while the node runs
	listen  []string // listen addresses for a new member (default guiListen)
	ntp     []string // NTP servers for a new member (default: public pools)

	confMu sync.Mutex // serialises config.json rewrites

	mu      sync.Mutex // guards everything below
	n       *Node
	cs      *controlServer
	cancel  context.CancelFunc // stops the event pump
	closed  bool
	subs    map[int]chan app.Event
	nextSub int

	started chan struct{} // closed once the node runs

	wg    sync.WaitGroup // the event pump goroutines
	drops atomic.Uint64  // events dropped because a subscriber was full
}

var _ app.Backend = (*guiBackend)(nil)

func newGUIBackend(dir string, log *slog.Logger, control bool) *guiBackend {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &guiBackend{dir: dir, log: log.With("component", "gui-backend"), control: control,
		subs: map[int]chan app.Event{}, started: make(chan struct{})}
}

// hasMember reports whether the data dir already holds a member.
func (b *guiBackend) hasMember() bool {
	_, err := os.Stat(configPath(b.dir))
	return err == nil
}

// start starts the Node on the data dir, then the control socket and the
// event pump.
func (b *guiBackend) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("closed")
	}
	if b.n != nil {
		return nil
	}
	// The node lives as long as the backend, not as long as one call.
	n, err := StartNode(context.Background(), NodeConfig{Dir: b.dir, Logger: b.log})
	if err != nil {
		return err
	}
	if b.control {
		cs, err := listenControl(n, b.dir, b.log)
		if err != nil {
			return errors.Join(err, n.Close())
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
	b.log.Info("member running", "peer", n.ID(), "team", n.conf.TeamName, "addrs", strings.Join(n.host.Addrs(), " "))
	return nil
}

// teamStateWait bounds how long waitTeamState waits.
const teamStateWait = 15 * time.Second

// waitTeamState waits (at most teamStateWait) until the store holds the
// team's channels. A member that just joined starts with an empty store and
// the chat view opens the first channel it lists only once, at start, so
// the window waits for the first replicated entries before it shows the
// chat. Offline, it gives up and the chat shows what there is.
func (b *guiBackend) waitTeamState(ctx context.Context) {
	n, err := b.node()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, teamStateWait)
	defer cancel()
	for {
		if chans, err := n.store.Channels(); err != nil || len(chans) > 0 {
			return
		}
		if err := n.store.WaitApplied(ctx, n.store.AppliedIndex()+1); err != nil {
			b.log.Warn("no channels replicated yet; showing the chat anyway", "err", err)
			return
		}
	}
}

// waitReplayed waits until raft has applied every entry it knows to be
// committed: after a start, until the log has been replayed. It polls (raft
// offers no notification) every replayPoll.
func (b *guiBackend) waitReplayed(ctx context.Context) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	t := time.NewTicker(replayPoll)
	defer t.Stop()
	for {
		if rs := n.replica.Status(); rs.Leader != "" && rs.AppliedIndex >= rs.CommitIndex {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// node returns the running node, or errNoMemberYet.
func (b *guiBackend) node() (*Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		return nil, errNoMemberYet
	}
	return b.n, nil
}

// startedCh is closed once the node runs.
func (b *guiBackend) startedCh() <-chan struct{} { return b.started }

// removed is closed when the node learns it was removed from the team;
// nil channel while no node runs.
func (b *guiBackend) removed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		return nil
	}
	return b.n.Removed()
}

// Close stops the event pump, closes subscribers, the control socket and
// the Node (which hands leadership over first). Idempotent.
func (b *guiBackend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	n, cs, cancel := b.n, b.cs, b.cancel
	for id, ch := range b.subs {
		close(ch)
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
func (b *guiBackend) Send(ctx context.Context, channel, text string) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	id, err := n.Send(ctx, channel, text)
	if errors.Is(err, ErrQueued) {
		return id, fmt.Errorf("%w (%w)", app.ErrQueued, err)
	}
	return id, err
}

// Retry implements app.Backend.
func (b *guiBackend) Retry(ctx context.Context, id string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	err = n.Retry(ctx, id)
	if errors.Is(err, ErrQueued) {
		return fmt.Errorf("%w (%w)", app.ErrQueued, err)
	}
	return err
}

// History implements app.Backend.
func (b *guiBackend) History(ctx context.Context, channel string, before uint64, limit int) ([]storage.Message, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	if err := n.caughtUp(ctx); err != nil {
		return nil, err
	}
	return n.readable(channel, storage.Query{Before: before, Limit: limit})
}

// Channels implements app.Backend.
func (b *guiBackend) Channels(ctx context.Context) ([]storage.Channel, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	return n.Channels(ctx)
}

// CreateChannel implements app.Backend.
func (b *guiBackend) CreateChannel(ctx context.Context, name string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	if _, err := n.store.Channel(name); err == nil {
		return nil
	}
	return n.CreateChannel(ctx, name)
}

// Members implements app.Backend.
func (b *guiBackend) Members(ctx context.Context) ([]app.Member, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	rows, err := n.MemberList(ctx)
	if err != nil {
		return nil, err
	}
	leader := n.replica.Status().Leader
	out := make([]app.Member, len(rows))
	for i, r := range rows {
		out[i] = app.Member{ID: r.ID, Name: r.Name, Role: r.Role, Voter: r.Voter, Online: r.Online, Leader: r.ID == leader}
	}
	return out, nil
}

// RemoveMember implements app.Backend.
func (b *guiBackend) RemoveMember(ctx context.Context, id string) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return n.RemoveMember(ctx, id)
}

// Status implements app.Backend.
func (b *guiBackend) Status(ctx context.Context) (app.Status, error) {
	n, err := b.node()
	if err != nil {
		return app.Status{}, err
	}
	st := n.Status()
	out := app.Status{Self: st.ID, Team: st.Team, Role: st.Role, Leader: st.Leader, Voters: st.Voters,
		Total: len(st.Peers), ClockSource: st.Clock.Source, ClockOffset: n.clock.Offset(),
		Disk: app.DiskState(st.Disk.State), DiskFree: st.Disk.FreeBytes}
	for _, p := range st.Peers {
		if p.Healthy {
			out.Connected++
		}
	}
	if st.Outbox != nil {
		out.Queued = *st.Outbox
	}
	if st.Storage.Reason != nil {
		out.Storage = *st.Storage.Reason
	} else {
		out.Storage = divergedSentence(st.Consistency)
	}
	return out, nil
}

// Invite implements app.Backend.
func (b *guiBackend) Invite(ctx context.Context) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	return n.Invite(ctx, DefaultInviteTTL)
}

// CreateTeam implements app.Backend: what `concord init` does, then run.
func (b *guiBackend) CreateTeam(ctx context.Context, team, name string) error {
	if err := validMemberName(name); err != nil {
		return fmt.Errorf("name: %v", err)
	}
	if err := ensureNewDataDir(b.dir); err != nil {
		return err
	}
	conf := newTeamConfig(team, name, b.listenAddrs(), b.ntp)
	if err := saveConfig(b.dir, conf); err != nil {
		return err
	}
	if _, err := initMember(ctx, NodeConfig{Dir: b.dir, Logger: b.log}, conf); err != nil {
		_ = os.Remove(configPath(b.dir)) // let a retry start over
		return err
	}
	return b.start()
}

// JoinTeam implements app.Backend: what `concord join` does, then run.
func (b *guiBackend) JoinTeam(ctx context.Context, code, name string) error {
	_, err := joinTeam(ctx, b.dir, name, strings.TrimSpace(code), b.listenAddrs(), b.ntp)
	switch {
	case err == nil:
	case errors.Is(err, ErrBadInvite):
		return fmt.Errorf("%w: %s", app.ErrBadInvite, strings.TrimPrefix(err.Error(), ErrBadInvite.Error()+": "))
	case strings.HasPrefix(err.Error(), "join refused: "):
		return fmt.Errorf("%w: %s", app.ErrBadInvite, strings.TrimPrefix(err.Error(), "join refused: "))
	default:
		return err
	}
	if err := b.start(); err != nil {
		return err
	}
	b.waitTeamState(ctx)
	return nil
}

func (b *guiBackend) listenAddrs() []string {
	if len(b.listen) > 0 {
		return b.listen
	}
	return []string{guiListen}
}
