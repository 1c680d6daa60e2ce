package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/consensus"
	"concord/failover"
	"concord/internal/smallfs"
	"concord/internal/testutil"
	"concord/storage"
	"concord/timesync"
)

// testCluster is a team of in-process members on 127.0.0.1.
type testCluster struct {
	timing   consensus.Timing
	noSearch bool // members do not feed their search index (Config.NoSearch)
	// wrapOutbox and removalWatch go to every member's Config.
	wrapOutbox   func(failover.Outbox) failover.Outbox
	removalWatch time.Duration
	// teamVersion caps the team version (Config.MaxTeamVersion; 0: none).
	teamVersion int
	// small puts a member's data dir on a filesystem of that many bytes
	// (member index → size), to run it out of space.
	small map[int]int64
	t     testing.TB
	dirs  []string
	nodes []*Node // nil while a member is stopped
	ids   []peer.ID
}

const loopback = "/ip4/127.0.0.1/tcp/0"

// testTiming is what in-process members run with: the LAN defaults, and
// snapshots taken often enough that tests go through them.
var testTiming = consensus.Timing{SnapshotThreshold: 64, TrailingLogs: 16, Stabilization: 2 * time.Second, WALSegment: 16 << 10}

// noNTP points in-process members at a loopback port where no NTP server
// answers (tests never ask the public pools).
var noNTP = []string{"127.0.0.1:9"}

// startNodeWith starts a member whose local clock is clock (nil: the
// system clock).
func startNodeWith(t testing.TB, dir string, clock timesync.Clock, timing consensus.Timing) *Node {
	t.Helper()
	return startNodeCfg(t, Config{Dir: dir, Timing: timing, NTP: noNTP, Clock: clock})
}

// startNodeCfg starts the member cfg describes, logging to stderr when
// CONCORD_TEST_LOG is set.
func startNodeCfg(t testing.TB, cfg Config) *Node {
	t.Helper()
	dir := cfg.Dir
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if os.Getenv("CONCORD_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", filepath.Base(dir))
	}
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("start %s: %v", dir, err)
	}
	return n
}

// newTestCluster creates a team of size members the way users do: the
// first inits, the others join with its invite code.
func newTestCluster(t testing.TB, size int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, size, testTiming)
}

// newTestClusterWith makes a team whose members run with timing (the zero
// value: production defaults, as benchmarks need).
func newTestClusterWith(t testing.TB, size int, timing consensus.Timing) *testCluster {
	t.Helper()
	return newTestClusterOf(t, size, &testCluster{timing: timing})
}

// newEngineCluster makes a team with production timing whose members do not
// feed their search index: the replication engine alone, for benchmarks.
func newEngineCluster(t testing.TB, size int) *testCluster {
	t.Helper()
	return newTestClusterOf(t, size, &testCluster{noSearch: true})
}

// newTestClusterOf fills c (its timing and noSearch set) with size members.
func newTestClusterOf(t testing.TB, size int, c *testCluster) *testCluster {
	t.Helper()
	c.t = t
	// Cleanups run last-registered first: the members close before their
	// small filesystems are unmounted and before the temporary dir goes.
	root := t.TempDir()
	for i, size := range c.small {
		smallfs.MountAt(t, filepath.Join(root, fmt.Sprintf("m%d", i)), size)
	}
	t.Cleanup(c.closeAll)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range size {
		dir := filepath.Join(root, fmt.Sprintf("m%d", i))
		name := fmt.Sprintf("m%d", i)
		if i == 0 {
			if err := ensureNewDataDir(dir); err != nil {
				t.Fatal(err)
			}
			conf := newTeamConfig("test", name, []string{loopback}, nil)
			if err := SaveConfig(dir, conf); err != nil {
				t.Fatal(err)
			}
			if _, err := initMember(ctx, Config{Dir: dir, Timing: c.timing, NTP: noNTP, MaxTeamVersion: c.teamVersion}, conf); err != nil {
				t.Fatal(err)
			}
		} else {
			code, err := c.nodes[0].Invite(ctx, 0)
			if err != nil {
				t.Fatalf("invite: %v", err)
			}
			if _, err := Join(ctx, dir, name, code, []string{loopback}, nil); err != nil {
				t.Fatalf("join %s: %v", name, err)
			}
		}
		c.dirs = append(c.dirs, dir)
		c.nodes = append(c.nodes, c.start(dir))
		c.ids = append(c.ids, c.nodes[i].ID())
	}
	c.waitVoters(min(size, 3))
	c.waitConverged()
	return c
}

func (c *testCluster) closeAll() {
	for i, n := range c.nodes {
		if n != nil {
			if err := n.Close(); err != nil {
				c.t.Errorf("close m%d: %v", i, err)
			}
			c.nodes[i] = nil
		}
	}
}

func (c *testCluster) waitVoters(n int) {
	c.t.Helper()
	testutil.WaitFor(c.t, 30*time.Second, fmt.Sprintf("%d voters", n), func() bool {
		for _, nd := range c.nodes {
			if nd != nil {
				st := nd.Status()
				if len(st.Voters) == n && st.Leader != "" {
					return true
				}
			}
		}
		return false
	})
}

// leader returns the index of the member that leads, waiting up to 10 s
// for one (an election may be under way, more so on a loaded machine); -1
// if none does.
func (c *testCluster) leader() int {
	lead := -1
	_ = testutil.Poll(context.Background(), 10*time.Second, 0, func() (bool, string) {
		for i, n := range c.nodes {
			if n != nil && n.Status().Role == "leader" {
				lead = i
				return true, ""
			}
		}
		return false, ""
	})
	return lead
}

// histories returns each running member's #general as IDs in order.
func (c *testCluster) histories() map[string][]string {
	out := map[string][]string{}
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		msgs, err := n.store.History("general", storage.Query{})
		if err != nil {
			c.t.Fatal(err)
		}
		ids := make([]string, len(msgs))
		for j, m := range msgs {
			ids[j] = m.ID
		}
		out[fmt.Sprintf("m%d", i)] = ids
	}
	return out
}

// waitConverged waits until every running member has the same commit
// index, covering everything any member acknowledged, and has written all of
// it to its store.
func (c *testCluster) waitConverged() {
	c.t.Helper()
	var acked, commit uint64
	err := testutil.Poll(context.Background(), 30*time.Second, 0, func() (bool, string) {
		acked, commit = 0, 0
		for _, n := range c.nodes {
			if n != nil {
				acked = max(acked, n.acked.Load())
				commit = max(commit, n.replica.CommitIndex())
			}
		}
		done := commit >= acked
		state := ""
		for i, n := range c.nodes {
			if n != nil {
				done = done && n.replica.CommitIndex() == commit && n.replica.Settled() && n.store.AppliedIndex() >= acked
				st := n.replica.Status()
				state += fmt.Sprintf(" m%d[%s applied=%d handed=%d commit=%d raft-applied=%d]", i, st.Role,
					n.store.AppliedIndex(), n.replica.Handed(), st.CommitIndex, st.AppliedIndex)
			}
		}
		return done, state
	})
	if err != nil {
		c.t.Fatalf("members did not converge (acked %d, commit %d): %v", acked, commit, err)
	}
}

// sendLoad has `per` senders on each running member send `count` messages
// each, one after another, and records every attempt.
func sendLoad(c *testCluster, per, count int, timeout time.Duration) []attempt {
	var all []int
	for i, n := range c.nodes {
		if n != nil {
			all = append(all, i)
		}
	}
	return sendLoadOn(c, all, per, count, timeout)
}

// sendLoadOn is sendLoad through the given members only. A send that ends
// queued (ErrQueued) is a promise too: it must land exactly once.
func sendLoadOn(c *testCluster, members []int, per, count int, timeout time.Duration) []attempt {
	return sendLoadText(c, members, per, count, timeout, func(author string, k int) string {
		return fmt.Sprintf("%s #%d", author, k)
	})
}

// sendLoadText is sendLoadOn with the k-th text of each author from text.
func sendLoadText(c *testCluster, members []int, per, count int, timeout time.Duration, text func(author string, k int) string) []attempt {
	var mu sync.Mutex
	var out []attempt
	errs := map[string]int{}
	var wg sync.WaitGroup
	for _, i := range members {
		n := c.nodes[i]
		for s := range per {
			wg.Go(func() {
				author := fmt.Sprintf("m%d/s%d", i, s)
				for k := range count {
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					id, err := n.Send(ctx, "general", text(author, k))
					cancel()
					mu.Lock()
					out = append(out, attempt{ID: id, Author: author, Acked: err == nil || errors.Is(err, ErrQueued)})
					if err != nil && errs[err.Error()] == 0 {
						c.t.Logf("%s: send failed: %v", author, err)
					}
					if err != nil {
						errs[err.Error()]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return out
}

func TestClusterReplicatesConcurrentSends(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	attempts := sendLoad(c, 4, 15, 10*time.Second)
	c.waitConverged()
	r := checkHistories(attempts, c.histories())
	t.Log(r)
	if !r.OK() || r.Acked != len(attempts) {
		t.Fatalf("replication broke its promise: %v", r)
	}
	// Commit times strictly increase in log order on every member.
	for i, n := range c.nodes {
		msgs, _ := n.store.History("general", storage.Query{})
		for j := 1; j < len(msgs); j++ {
			if !msgs[j].CommittedAt.After(msgs[j-1].CommittedAt) {
				t.Fatalf("m%d: commit time of seq %d not after seq %d", i, msgs[j].Seq, msgs[j-1].Seq)
			}
		}
	}
}

func TestClusterSurvivesLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	var attempts []attempt
	var wg sync.WaitGroup
	wg.Go(func() { attempts = sendLoad(c, 2, 40, 15*time.Second) })
	// Stop the leader while the load runs, then bring it back.
	testutil.WaitFor(t, 10*time.Second, "some messages", func() bool {
		n := c.nodes[0]
		msgs, _ := n.store.History("general", storage.Query{})
		return len(msgs) > 20
	})
	l := c.leader()
	if l < 0 {
		t.Fatal("no leader")
	}
	old := c.nodes[l]
	c.nodes[l] = nil // its senders keep using the closed node and must fail cleanly
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "a new leader", func() bool { return c.leader() >= 0 })
	c.nodes[l] = c.start(c.dirs[l])
	wg.Wait()
	c.waitConverged()
	r := checkHistories(attempts, c.histories())
	t.Log(r)
	if !r.OK() {
		t.Fatalf("leader loss broke the promise: %v", r)
	}
	if r.Acked < len(attempts)/2 {
		t.Fatalf("too few sends succeeded through a leader change: %v", r)
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 1)
	n := c.nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct{ name, channel, text string }{
		{"empty", "general", ""},
		{"unknown channel", "nope", "hi"},
		{"oversized", "general", string(make([]byte, storage.MaxTextBytes+1))},
		{"invalid utf8", "general", "\xff\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := n.Send(ctx, tt.channel, tt.text); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if err := n.CreateChannel(ctx, "Bad Name!"); err == nil {
		t.Fatal("bad channel name accepted")
	}
	if err := n.CreateChannel(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, "dev", "hello dev"); err != nil {
		t.Fatal(err)
	}
}

// A member that was down while the team moved past its log catches up from
// a snapshot streamed by the leader (InstallSnapshot), and a member that
// restarts after snapshots replays only what its store had not written.
func TestClusterCatchesUpFromSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	first := sendLoad(c, 2, 10, 10*time.Second)
	c.waitConverged()
	down := (c.leader() + 1) % 3
	gone := c.nodes[down].store.AppliedIndex()
	if err := c.nodes[down].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[down] = nil
	// Many entries (one message each, no concurrency): snapshots and log
	// truncation happen while the member is away.
	later := sendLoad(c, 1, 150, 10*time.Second)
	c.waitConverged()
	leader := c.nodes[c.leader()]
	leaderDir := c.dirs[c.leader()]
	testutil.WaitFor(t, 20*time.Second, "the leader to truncate its log past the member", func() bool {
		return leader.replica.FirstIndex() > gone+1
	})
	c.nodes[down] = c.start(c.dirs[down])
	c.waitConverged()
	r := checkHistories(append(first, later...), c.histories())
	t.Log(r)
	if !r.OK() || r.Acked != r.Attempted {
		t.Fatalf("catch-up by snapshot broke the promise: %v", r)
	}
	t.Logf("member stopped at %d; leader snapshot %d; member snapshot %d", gone, latestSnapshot(t, leaderDir), latestSnapshot(t, c.dirs[down]))
	if latestSnapshot(t, c.dirs[down]) <= gone {
		t.Fatalf("the member caught up without a snapshot: the test did not test what it says")
	}
}

// latestSnapshot returns the index of the newest Raft snapshot in a data dir
// (raft names them term-index-time).
func latestSnapshot(t testing.TB, dir string) uint64 {
	snaps, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*"))
	var best uint64
	for _, s := range snaps {
		var term, index uint64
		if _, err := fmt.Sscanf(filepath.Base(s), "%d-%d-", &term, &index); err == nil {
			best = max(best, index)
		}
	}
	return best
}

// start (re)starts a member of the cluster.
func (c *testCluster) start(dir string) *Node {
	c.t.Helper()
	return startNodeCfg(c.t, Config{Dir: dir, Timing: c.timing, NTP: noNTP, NoSearch: c.noSearch,
		WrapOutbox: c.wrapOutbox, RemovalWatch: c.removalWatch, MaxTeamVersion: c.teamVersion})
}

// crash stops member i the way a power cut or SIGKILL would: its network
// goes first (peers see the connections drop), then it stops without
// handing leadership over.
func (c *testCluster) crash(i int) {
	c.t.Helper()
	n := c.nodes[i]
	c.nodes[i] = nil
	for _, o := range c.nodes {
		if o != nil {
			n.host.Block(o.ID())
		}
	}
	if err := n.replica.Abort(); err != nil {
		c.t.Logf("abort m%d: %v", i, err)
	}
	if err := n.Close(); err != nil {
		c.t.Logf("close m%d: %v", i, err)
	}
}

// partition cuts member i off from every other member (both directions);
// heal undoes it.
func (c *testCluster) partition(i int) {
	for j := range c.nodes {
		if j != i {
			c.cut(i, j)
		}
	}
}

func (c *testCluster) heal(i int) {
	for j := range c.nodes {
		if j != i {
			c.join(i, j)
		}
	}
}

// cut blocks the link between members i and j in both directions (on
// whichever of them is running).
func (c *testCluster) cut(i, j int) {
	if c.nodes[i] != nil {
		c.nodes[i].host.Block(c.ids[j])
	}
	if c.nodes[j] != nil {
		c.nodes[j].host.Block(c.ids[i])
	}
}

func (c *testCluster) join(i, j int) {
	if c.nodes[i] != nil {
		c.nodes[i].host.Unblock(c.ids[j])
	}
	if c.nodes[j] != nil {
		c.nodes[j].host.Unblock(c.ids[i])
	}
}
