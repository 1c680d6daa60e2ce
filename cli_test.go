package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"concord/control"
	"concord/node"
)

// newMember makes a one-member team in a new dir (what `concord init`
// does) and returns the dir.
func newMember(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := node.Create(ctx, node.Config{Dir: dir, Listen: []string{loopback}, NTP: noNTP}, "cli", "ann"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCLIOnFullDisk: with the member's disk full, `concord status --json`
// says so and `concord send` fails with the disk-full sentence.
func TestCLIOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := newMember(t, ctx)
	full := func(string) (free, total uint64, err error) { return 1 << 20, 1 << 30, nil }
	n, err := node.Open(ctx, node.Config{Dir: dir, NTP: noNTP, DiskFree: full, DiskInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	cs, err := control.Listen(n, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close(context.Background()) })

	var stdout, stderr bytes.Buffer
	if code := run([]string{"status", "--json", "--data", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr.String())
	}
	var st control.Status
	if err := json.Unmarshal(stdout.Bytes(), &st); err != nil || st.Disk.State != "full" || st.Disk.FreeBytes != 1<<20 {
		t.Errorf("status --json on a full disk: %v %+v\n%s", err, st.Disk, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"send", "--data", dir, "from the CLI"}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), node.ErrDiskFull.Error()) {
		t.Errorf("concord send on a full disk: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestCLIRepair: `concord repair` on a stopped member whose state.db has a
// flipped bit reports the damage, rebuilds state.db and sets the damaged
// file aside; the member then opens with its message.
func TestCLIRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := newMember(t, ctx)
	n, err := node.Open(ctx, node.Config{Dir: dir, NTP: noNTP})
	if err != nil {
		t.Fatal(err)
	}
	const text = "flip me: xxxxxxxx"
	if _, err := n.Send(ctx, "general", text); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(text))
	if i < 0 {
		t.Fatal("the message's text is not in state.db")
	}
	b[i+len(text)-1] = 'y'
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"repair", "--data", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("repair: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("concord repair said:\n%s", out)
	if !strings.Contains(out, "damaged") || !strings.Contains(out, "rebuilt state.db") {
		t.Errorf("repair did not report the damage and the rebuild:\n%s", out)
	}
	if aside, _ := filepath.Glob(path + ".damaged-*"); len(aside) != 1 {
		t.Errorf("the damaged state.db was not set aside: %v", aside)
	}
	n, err = node.Open(ctx, node.Config{Dir: dir, NTP: noNTP})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	// The rebuilt state.db holds what the Raft snapshots held (none yet):
	// the log's entries are applied again as the member starts.
	if err := n.WaitReplayed(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	msgs, err := n.History(ctx, "general", 0)
	if err != nil || len(msgs) != 1 || msgs[0].Text != text {
		t.Fatalf("history after the repair: %v %+v", err, msgs)
	}
}

// TestCLIDefaultsToTheWindowsDataDir: a subcommand given no --data talks to
// the member in the data dir the window uses (~/.concord here), like the
// app, instead of refusing.
func TestCLIDefaultsToTheWindowsDataDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	var stderr bytes.Buffer
	err := commands["status"]([]string{}, &bytes.Buffer{}, &stderr)
	want := filepath.Join(home, ".concord")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("status with no --data and no member in %s: %v, want an error naming %s", want, err, want)
	}
}

// TestCLISendTooLong: a text over the limit gets the limit in a sentence
// and the way to send it, before anything reaches the member.
func TestCLISendTooLong(t *testing.T) {
	err := commands["send"]([]string{"--data", t.TempDir(), strings.Repeat("x", 40<<10)}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "longer than the 32 KiB") || !strings.Contains(err.Error(), "concord attach") {
		t.Fatalf("send of 40 KiB: %v", err)
	}
}
