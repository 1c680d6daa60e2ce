package node

import (
	"bytes"
	"context"
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
	"concord/internal/testutil"
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
