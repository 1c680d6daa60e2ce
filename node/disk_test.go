package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"concord/diskspace"
	"concord/internal/smallfs"
	"concord/internal/testutil"
	"concord/storage"
)

// mountTmpfs mounts a tmpfs of size (e.g. "96m") on a new temp dir, or
// skips the test when it cannot (not root, no mount permission).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	// Registered after TempDir's cleanup, so it runs before it.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file that leaves about leave bytes free on dir's filesystem.
func fill(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	free, _, err := diskspace.Free(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free <= leave {
		t.Fatalf("only %d bytes free, want more than %d", free, leave)
	}
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for left := free - leave; left > 0; {
		n := min(left, uint64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatalf("fill: %v", err)
		}
		left -= n
	}
	return path
}

func waitDiskState(t *testing.T, n *Node, want string) {
	t.Helper()
	err := testutil.Poll(context.Background(), 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		st := n.Status().Disk
		return string(st.Level) == want, fmt.Sprintf("disk state %q (%d bytes free)", st.Level, st.Free)
	})
	if err != nil {
		t.Fatalf("want disk state %q: %v", want, err)
	}
}

// TestDiskFull runs a single-member team whose data dir is on a small
// tmpfs, fills the filesystem, and checks the member says so (Status)
// and refuses sends with ErrDiskFull, then sends again once space is
// freed.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	mnt := mountTmpfs(t, "96m")
	dir := filepath.Join(mnt, "m0")
	if err := ensureNewDataDir(dir); err != nil {
		t.Fatal(err)
	}
	conf := newTeamConfig("test", "m0", []string{loopback}, nil)
	if err := SaveConfig(dir, conf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Dir: dir, Timing: testTiming, NTP: noNTP, DiskInterval: 20 * time.Millisecond}
	if _, err := initMember(ctx, cfg, conf); err != nil {
		t.Fatal(err)
	}
	n := startNodeCfg(t, cfg)
	t.Cleanup(func() { _ = n.Close() })
	if _, err := n.Send(ctx, "general", "before"); err != nil {
		t.Fatal(err)
	}
	waitDiskState(t, n, "ok") // on 96 MB, low is below 2 %: 1.9 MB

	ballast := fill(t, mnt, 8<<20)
	waitDiskState(t, n, "full")
	if _, err := n.Send(ctx, "general", "while full"); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Send on a full disk = %v, want ErrDiskFull", err)
	}
	// What status --json and the CLI print on a full disk:
	// TestCLIOnFullDisk (the root package).

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	// No wait for the watcher: a send re-reads a full disk before refusing.
	if _, err := n.Send(ctx, "general", "after"); err != nil {
		t.Fatalf("Send once space is freed: %v", err)
	}
	waitDiskState(t, n, "ok")
	msgs, err := n.History(ctx, "general", 0)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if got := strings.Join(texts, ","); got != "before,after" {
		t.Errorf("history %q, want before,after", got)
	}
}

// TestDiskLowConfig: an old config.json without disk_low_mb loads with the
// default, a set one is used as it is, a negative one is refused.
func TestDiskLowConfig(t *testing.T) {
	tests := []struct {
		name    string
		extra   string
		wantLow uint64 // low threshold on a 1 TB disk
		wantErr bool
	}{
		{"absent (old config)", ``, 200 << 20, false},
		{"zero", `,"disk_low_mb":0`, 200 << 20, false},
		{"set", `,"disk_low_mb":1024`, 1 << 30, false},
		{"negative", `,"disk_low_mb":-1`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			body := `{"version":2,"team_id":"t","team_name":"T","name":"ann","listen":[],"network_key":"00"` + tt.extra + `}`
			if err := os.WriteFile(configPath(dir), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("loadConfig = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := c.diskConfig(dir).LowThreshold(1 << 40); got != tt.wantLow {
				t.Errorf("low threshold on 1 TB = %d, want %d", got, tt.wantLow)
			}
		})
	}
}

// TestAutoFetchWaitsForRoom: a member whose disk is low does not fetch
// files on its own, and fetches them once the disk is ok again.
func TestAutoFetchWaitsForRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("starts members")
	}
	c := newTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var free atomic.Uint64
	free.Store(100 << 20) // low on a 1 TB disk
	low := func(string) (uint64, uint64, error) { return free.Load(), 1 << 40, nil }
	// Member 1 restarts with the fake disk.
	if err := c.nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[1] = startNodeCfg(t, Config{Dir: c.dirs[1], Timing: testTiming, NTP: noNTP,
		DiskInterval: 10 * time.Millisecond, DiskFree: low})
	b := c.nodes[1]
	if st := b.Status().Disk; st.Level != diskspace.Low {
		t.Fatalf("disk %+v, want low", st)
	}
	src := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(src, bytes.Repeat([]byte("x"), 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := c.nodes[0].Attach(ctx, "general", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.message(ctx, id)
	if err != nil || m.File == nil {
		t.Fatalf("message %+v, %v", m, err)
	}
	time.Sleep(5 * time.Second) // two auto-fetch ticks and more
	if b.blobs.Has(m.File.Hash) {
		t.Fatal("fetched a file while the disk was low")
	}
	free.Store(500 << 30)
	testutil.WaitFor(t, 30*time.Second, "the auto-fetch once the disk is ok", func() bool { return b.blobs.Has(m.File.Hash) })
}

// TestFetchOnFullDisk: an explicit Fetch on a member whose disk has no room
// for the file (the blob and the copy, both on the data dir's disk) is
// refused with ErrDiskFull before anything is written: no blob, no copy, no
// ".part"; so is OpenFile's fetch. Once the disk reports room it fetches
// the file.
func TestFetchOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts members")
	}
	c := newTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var free atomic.Uint64
	free.Store(10 << 20) // below 16 MB: full
	disk := func(string) (uint64, uint64, error) { return free.Load(), 1 << 40, nil }
	b, id, m, data := fileOnSecond(ctx, t, c, disk)
	var err error
	outDir := t.TempDir()
	if !sameDisk(b.cfg.Dir, outDir) {
		t.Skip("the data dir and the temp dir are on different disks: the copy would not count")
	}
	out := filepath.Join(outDir, "copy.bin")
	nothingWritten := func(when string) {
		t.Helper()
		if b.blobs.Has(m.File.Hash) {
			t.Fatalf("%s: the blob was written", when)
		}
		if left, _ := filepath.Glob(filepath.Join(b.cfg.Dir, "blobs", "*")); len(left) > 0 {
			t.Fatalf("%s: left in blobs: %v", when, left)
		}
		if left, _ := os.ReadDir(outDir); len(left) > 0 {
			t.Fatalf("%s: left where the copy goes: %v", when, left)
		}
	}

	err = b.Fetch(ctx, id, out, nil)
	t.Logf("fetch with 10 MB free: %v", err)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Fetch on a full disk = %v, want ErrDiskFull", err)
	}
	nothingWritten("full")
	// Opening it (the window's thumbnails, opening an attachment) fetches
	// the blob: refused the same way.
	if _, err := b.OpenFile(ctx, *m.File, true); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("OpenFile with fetch on a full disk = %v, want ErrDiskFull", err)
	}
	nothingWritten("full, opened")

	// Low, not full: 20 MB free, but the blob and the copy (6 MB) would
	// leave less than 16 MB. (Low also keeps the auto-fetch away.)
	free.Store(20 << 20)
	err = b.Fetch(ctx, id, out, nil)
	t.Logf("fetch with 20 MB free: %v", err)
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "needs 6 MB, 20 MB are free") {
		t.Fatalf("Fetch of a file that does not fit = %v, want ErrDiskFull saying it needs 6 MB of 20", err)
	}
	nothingWritten("too small")

	free.Store(30 << 20)
	if err := b.Fetch(ctx, id, out, nil); err != nil {
		t.Fatalf("Fetch once there is room: %v", err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file differs (%d bytes, %v)", len(got), err)
	}
	if _, err := os.Stat(out + ".part"); !os.IsNotExist(err) {
		t.Fatalf("the .part is still there: %v", err)
	}
}

// TestFetchWriteFailureLeavesNothing: when a fetch's writes fail anyway
// (the free-space reading said there was room), it fails with ErrDiskFull
// and leaves nothing half written: no partial blob on the data dir's disk
// when the blob does not fit, no ".part" and no copy when the copy does not
// fit on its (other) disk; the file is fetched once there is room.
func TestFetchWriteFailureLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster on a small filesystem")
	}
	c := &testCluster{timing: testTiming, small: map[int]int64{1: 48 << 20}}
	newTestClusterOf(t, 2, c)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// The reading says there is room (and low: no auto-fetch); the
	// filesystems say otherwise.
	low := func(string) (uint64, uint64, error) { return 100 << 20, 1 << 40, nil }
	b, id, m, data := fileOnSecond(ctx, t, c, low)
	var err error
	blobDir := filepath.Join(b.cfg.Dir, "blobs")

	// The blob does not fit on the data dir's disk.
	filler := smallfs.Fill(t, b.cfg.Dir, 1<<20)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "copy.bin")
	err = b.Fetch(ctx, id, out, nil)
	t.Logf("fetch with 1 MB really free: %v", err)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Fetch whose blob does not fit = %v, want ErrDiskFull", err)
	}
	if left, _ := os.ReadDir(blobDir); len(left) > 0 {
		t.Fatalf("left in blobs: %v", left)
	}
	if left, _ := os.ReadDir(outDir); len(left) > 0 {
		t.Fatalf("left where the copy goes: %v", left)
	}
	filler.Release()

	// The copy does not fit on its own disk: the blob is whole and kept,
	// the copy and its .part are gone.
	small := smallfs.Mount(t, 1<<20)
	err = b.Fetch(ctx, id, filepath.Join(small, "copy.bin"), nil)
	t.Logf("fetch to a 1 MB disk: %v", err)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Fetch whose copy does not fit = %v, want ErrDiskFull", err)
	}
	if left, _ := os.ReadDir(small); len(left) > 0 {
		t.Fatalf("left on the copy's disk: %v", left)
	}
	if !b.blobs.Has(m.File.Hash) {
		t.Fatal("the blob, fetched whole, was not kept")
	}

	if err := b.Fetch(ctx, id, out, nil); err != nil {
		t.Fatalf("Fetch once there is room: %v", err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file differs (%d bytes, %v)", len(got), err)
	}
}

// TestTeamChangesOnFullDisk: every team change a user makes, which goes
// straight through Raft rather than the outbox (a channel, a private
// conversation, an invite, a role, a removal, a pin, a new name), is
// refused with ErrDiskFull on a full disk before anything is proposed, and
// works again once the disk reports room. A joiner is still admitted by
// members whose disks are full: that entry is the joiner's, not theirs.
func TestTeamChangesOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	c := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	msg, err := c.nodes[1].Send(ctx, "general", "pin me")
	if err != nil {
		t.Fatal(err)
	}
	code, err := c.nodes[0].Invite(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Every member restarts on a disk that reads full (10 MB free).
	var free atomic.Uint64
	free.Store(10 << 20)
	disk := func(string) (uint64, uint64, error) { return free.Load(), 1 << 40, nil }
	for i := range c.nodes {
		if err := c.nodes[i].Close(); err != nil {
			t.Fatal(err)
		}
		c.nodes[i] = nil
	}
	for i := range c.nodes {
		c.nodes[i] = startNodeCfg(t, Config{Dir: c.dirs[i], Timing: testTiming, NTP: noNTP,
			DiskInterval: 10 * time.Millisecond, DiskFree: disk})
	}
	c.waitVoters(3)
	c.waitConverged()
	a := c.nodes[0] // the team's admin
	m1, m2 := c.ids[1].String(), c.ids[2].String()
	changes := []struct {
		name string
		do   func() error
	}{
		{"create a channel", func() error { return a.CreateChannel(ctx, "later") }},
		{"start a private conversation", func() error { _, err := a.Conversation(ctx, []string{m1}); return err }},
		{"invite", func() error { _, err := a.Invite(ctx, time.Hour); return err }},
		{"make an admin", func() error { return a.SetRole(ctx, m1, storage.RoleAdmin) }},
		{"remove a member", func() error { return a.RemoveMember(ctx, m2) }},
		{"pin", func() error { return a.Pin(ctx, msg, false) }},
		{"rename", func() error { return a.Rename(ctx, "ann") }},
	}
	for _, ch := range changes {
		before := a.replica.CommitIndex()
		if err := ch.do(); !errors.Is(err, ErrDiskFull) {
			t.Errorf("%s on a full disk: %v, want ErrDiskFull", ch.name, err)
		}
		if after := a.replica.CommitIndex(); after != before {
			t.Errorf("%s on a full disk: the commit index moved from %d to %d", ch.name, before, after)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A joiner is admitted by members whose disks read full.
	joined, err := Join(ctx, filepath.Join(t.TempDir(), "m3"), "m3", code, []string{loopback}, nil)
	if err != nil {
		t.Fatalf("join through members whose disks are full: %v", err)
	}

	free.Store(500 << 30)
	changes = append(changes, struct {
		name string
		do   func() error
	}{"remove the joiner", func() error { return a.RemoveMember(ctx, joined.String()) }})
	for _, ch := range changes {
		if err := ch.do(); err != nil {
			t.Errorf("%s once there is room: %v", ch.name, err)
		}
	}
	if _, err := a.store.Channel("later"); err != nil {
		t.Errorf("channel once there is room: %v", err)
	}
	if m, err := a.store.Member(m1); err != nil || m.Role != storage.RoleAdmin {
		t.Errorf("m1 once there is room: %+v, %v", m, err)
	}
	if _, err := a.store.Member(m2); err == nil {
		t.Error("m2 is still a member")
	}
	if pins, err := a.Pins(ctx, "general"); err != nil || len(pins) != 1 || pins[0].ID != msg {
		t.Errorf("pins once there is room: %v, %v", pins, err)
	}
}

// fileOnSecond restarts the second member of c with disk as its free-space
// reading and has the first attach a 3 MB file: it returns the second
// member, the message's ID, the message as the second member has it and
// the file's bytes.
func fileOnSecond(ctx context.Context, t *testing.T, c *testCluster, disk func(string) (uint64, uint64, error)) (*Node, string, storage.Message, []byte) {
	t.Helper()
	if err := c.nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[1] = startNodeCfg(t, Config{Dir: c.dirs[1], Timing: testTiming, NTP: noNTP,
		DiskInterval: 10 * time.Millisecond, DiskFree: disk})
	b := c.nodes[1]
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	src := filepath.Join(t.TempDir(), "photo.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := c.nodes[0].Attach(ctx, "general", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.message(ctx, id)
	if err != nil || m.File == nil {
		t.Fatalf("message %+v, %v", m, err)
	}
	return b, id, m, data
}
