package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"concord/consensus"
	"concord/diskspace"
	"concord/internal/smallfs"
	"concord/internal/testutil"
	"concord/storage"
)

// TestFullDiskLosesNoMessage is the first scenario with real files:
// a member is stopped while the others commit a few hundred messages (some
// of 16 KB), then starts with 1 MB free on its own small filesystem. It
// must not skip what it cannot store: it says so in Status, its probes stop
// answering (no member reports it healthy), its own send is refused with a
// sentence (ErrDiskFull), and once space returns it catches up by itself, without
// a restart, to the same history as the others: every acknowledged message
// once, in one order. It catches up through a snapshot (the leader has
// compacted its log) or through the log's entries (appended, then applied).
func TestFullDiskLosesNoMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster on a small filesystem")
	}
	logTiming := testTiming
	logTiming.SnapshotThreshold, logTiming.TrailingLogs = 1<<20, 1<<20
	for _, tc := range []struct {
		name   string
		timing consensus.Timing
	}{{"snapshot", testTiming}, {"log", logTiming}} {
		t.Run(tc.name, func(t *testing.T) { fullDisk(t, tc.timing) })
	}
}

func fullDisk(t *testing.T, timing consensus.Timing) {
	c := &testCluster{timing: timing, small: map[int]int64{2: 48 << 20}}
	newTestClusterOf(t, 3, c)
	dir := c.dirs[2]
	if err := c.nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[2] = nil

	attempts := sendSized(c, []int{0, 1}, 3, 60, func(k int) int {
		if k%4 == 0 {
			return 16 << 10
		}
		return 200
	})
	c.waitConverged()
	filler := smallfs.Fill(t, dir, 1<<20)
	c.nodes[2] = c.start(dir)
	m2 := c.nodes[2]
	testutil.WaitFor(t, 30*time.Second, "m2 to say it cannot store the team's entries", func() bool {
		return m2.Status().Storage.State != "ok"
	})
	st := m2.Status()
	t.Logf("m2 with 1 MB free: storage %s: %s (applied %d, commit %d)", st.Storage.State, st.Storage.Reason, st.AppliedIndex, st.CommitIndex)
	testutil.WaitFor(t, 30*time.Second, "the others to see m2 unhealthy", func() bool {
		for _, i := range []int{0, 1} {
			for _, p := range c.nodes[i].Status().Peers {
				if p.ID == c.ids[2].String() && p.Healthy {
					return false
				}
			}
		}
		return true
	})
	// A send on the full member is refused before anything is written,
	// with a sentence that says what to do.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := m2.Send(ctx, "general", "typed while the disk is full")
	cancel()
	t.Logf("send on m2 while full: %v", err)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("a send on a member with a full disk should be refused with ErrDiskFull, got %v", err)
	}

	freed := time.Now()
	filler.Release()
	testutil.WaitFor(t, 60*time.Second, "m2 to store again", func() bool { return m2.Status().Storage.State == "ok" })
	testutil.WaitFor(t, 30*time.Second, "m2's disk to be ok", func() bool { return m2.Status().Disk.Level == diskspace.OK })
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	id, err := m2.Send(ctx, "general", "typed once space returned")
	cancel()
	if err != nil {
		t.Fatalf("send on m2 once space returned: %v", err)
	}
	attempts = append(attempts, attempt{ID: id, Author: "m2/after", Acked: true})
	c.waitConverged()
	t.Logf("m2 stores again %v after space returned", time.Since(freed).Round(time.Millisecond))
	r := checkHistories(attempts, c.histories())
	t.Logf("after the full disk: %v", r)
	if !r.OK() || r.Acked != len(attempts) {
		t.Fatalf("a full disk broke the promise: %v", r)
	}
	testutil.WaitFor(t, 30*time.Second, "the others to see m2 healthy again", func() bool {
		for _, p := range c.nodes[0].Status().Peers {
			if p.ID == c.ids[2].String() {
				return p.Healthy
			}
		}
		return false
	})
}

// sendSized is sendLoadOn with messages of size(k) bytes; every one must
// be acknowledged.
func sendSized(c *testCluster, members []int, per, count int, size func(k int) int) []attempt {
	attempts := sendLoadText(c, members, per, count, 20*time.Second, func(author string, k int) string {
		text := fmt.Sprintf("%s #%d ", author, k)
		return text + strings.Repeat("x", max(0, size(k)-len(text)))
	})
	for _, a := range attempts {
		if !a.Acked {
			c.t.Errorf("%s: a send was not acknowledged", a.Author)
		}
	}
	return attempts
}

// TestFlippedBitIsRepaired is the third scenario: one bit flipped
// in a stored message's text ('x'→'y') on a stopped member. The member must
// never serve the changed text: `concord repair` (or, without it, the next
// start) finds the damage, sets the file aside, and the state is rebuilt
// from the member's Raft snapshot and log and the team, identical to the
// others'.
func TestFlippedBitIsRepaired(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	for _, viaCLI := range []bool{true, false} {
		t.Run(fmt.Sprintf("repair-first=%v", viaCLI), func(t *testing.T) {
			c := newTestCluster(t, 3)
			attempts := sendLoad(c, 2, 20, 10*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			const text = "flip me: xxxxxxxx"
			id, err := c.nodes[0].Send(ctx, "general", text)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			attempts = append(append(attempts, attempt{ID: id, Author: "m0/flip", Acked: true}),
				sendLoad(c, 2, 10, 10*time.Second)...)
			c.waitConverged()
			// The team's creator has no seeds in its config: with its
			// state gone it must find the team through its peer cache.
			v := 2
			if !viaCLI {
				v = 0
			}
			dir := c.dirs[v]
			if err := c.nodes[v].Close(); err != nil {
				t.Fatal(err)
			}
			c.nodes[v] = nil
			if n := flipInFile(t, filepath.Join(dir, "state.db"), []byte(text), 'x', 'y'); n == 0 {
				t.Fatal("the message's text is not in state.db")
			}
			if viaCLI {
				// What `concord repair` does (its output: TestCLIRepair).
				log := slog.New(slog.DiscardHandler)
				if err := CheckState(context.Background(), dir, log, nil); !errors.Is(err, storage.ErrCorrupt) {
					t.Fatalf("the check of state.db = %v, want ErrCorrupt", err)
				}
				res, err := RebuildState(dir, log)
				if err != nil {
					t.Fatalf("rebuild: %v", err)
				}
				t.Logf("rebuilt state.db up to %d; the damaged one is %s", res.Applied, res.Aside)
			}
			c.nodes[v] = c.start(dir)
			c.waitConverged()
			r := checkHistories(attempts, c.histories())
			t.Logf("after the flipped bit: %v", r)
			if !r.OK() || r.Acked != len(attempts) {
				t.Fatalf("a flipped bit broke the promise: %v", r)
			}
			m, err := c.nodes[v].store.Lookup(id)
			if err != nil || m.Text != text {
				t.Fatalf("m%d serves %q (%v), want %q", v, m.Text, err, text)
			}
			aside, _ := filepath.Glob(filepath.Join(dir, "state.db.damaged-*"))
			if len(aside) != 1 {
				t.Errorf("the damaged file should be kept aside once, found %v", aside)
			}
		})
	}
}

// flipInFile replaces byte from with to inside every copy of marker in the
// file (bbolt keeps old copies of pages in its free pages: the live one is
// among them), flipping one bit per copy, and returns how many it changed.
func flipInFile(t *testing.T, path string, marker []byte, from, to byte) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, marker); i >= 0; {
		k := i + bytes.IndexByte(marker, from)
		b[k] = to
		n++
		j := bytes.Index(b[i+1:], marker)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDamagedRaftLogIsRefetched flips a bit in a committed entry in the
// middle of a stopped member's Raft log (bitrot, not a torn tail). The
// member must not serve or truncate it: at start it finds the damage, sets
// the log aside, refuses to vote until it has caught up, and gets the
// entries back from the team: same history everywhere, and once caught up
// it votes again (its no-vote mark is gone).
func TestDamagedRaftLogIsRefetched(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	timing := testTiming
	timing.SnapshotThreshold, timing.TrailingLogs = 1<<20, 1<<20 // the log keeps everything
	c := newTestClusterWith(t, 3, timing)
	const text = "rot in the log: xxxxxxxx"
	attempts := sendLoad(c, 2, 20, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	id, err := c.nodes[0].Send(ctx, "general", text)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	attempts = append(append(attempts, attempt{ID: id, Author: "m0/rot", Acked: true}), sendLoad(c, 2, 20, 10*time.Second)...)
	c.waitConverged()
	dir := c.dirs[1]
	if err := c.nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[1] = nil
	segs, _ := filepath.Glob(filepath.Join(dir, "raft", "wal", "*.wal"))
	flipped := 0
	for _, s := range segs {
		if b, _ := os.ReadFile(s); bytes.Contains(b, []byte(text)) {
			flipped += flipInFile(t, s, []byte(text), 'x', 'y')
		}
	}
	if flipped == 0 {
		t.Fatal("the message is not in m1's Raft log")
	}
	// Its state is gone too, so it would rebuild it from its own log:
	// without the scrub it would apply the rotted entry and serve it.
	for _, name := range []string{"state.db", "search.db"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[1] = c.start(dir)
	c.waitConverged()
	r := checkHistories(attempts, c.histories())
	t.Logf("after bitrot in the Raft log: %v", r)
	if !r.OK() || r.Acked != len(attempts) {
		t.Fatalf("bitrot in the Raft log broke the promise: %v", r)
	}
	if m, err := c.nodes[1].store.Lookup(id); err != nil || m.Text != text {
		t.Fatalf("m1 serves %q (%v), want %q", m.Text, err, text)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "raft", "wal.damaged-*")); len(aside) != 1 {
		t.Errorf("the damaged log should be kept aside once, found %v", aside)
	}
	testutil.WaitFor(t, 30*time.Second, "m1 to vote again (its no-vote mark removed)", func() bool {
		_, err := os.Stat(filepath.Join(dir, "raft", "no-vote-until-caught-up"))
		return os.IsNotExist(err)
	})
}
