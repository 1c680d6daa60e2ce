package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"concord/internal/netlab"
)

// TestProcessLANDiscovery: two members on a LAN of their own (network
// namespaces: loopback has no multicast) form a team, stop, both change
// IP address and forget every cached address; started again, they find
// each other over mDNS with no address given, and a message goes through.
func TestProcessLANDiscovery(t *testing.T) {
	lan := netlab.NewLAN(t, []string{"a", "b"}) // skips where namespaces cannot be made
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "ann"), filepath.Join(root, "bob")
	idA, err := cliIn(t, lan.NS("a"), "init", "--data", dirA, "--name", "ann", "--listen", "/ip4/0.0.0.0/tcp/0", "--ntp", noNTP[0])
	if err != nil {
		t.Fatal(err)
	}
	ann := newProc(t, "ann", dirA, strings.TrimSpace(idA))
	ann.netns = lan.NS("a")
	ann.start()
	tm := &procTeam{t: t, root: root, procs: []*proc{ann}}
	tm.waitLeader(ann)
	code, err := cli(t, "invite", "--data", dirA)
	if err != nil {
		t.Fatal(err)
	}
	idB, err := cliIn(t, lan.NS("b"), "join", "--data", dirB, "--name", "bob", "--invite", strings.TrimSpace(code),
		"--listen", "/ip4/0.0.0.0/tcp/0", "--ntp", noNTP[0])
	if err != nil {
		t.Fatal(err)
	}
	bob := newProc(t, "bob", dirB, strings.TrimSpace(idB))
	bob.netns = lan.NS("b")
	bob.start()
	tm.procs = append(tm.procs, bob)
	tm.waitVoters(2)
	for _, p := range tm.procs {
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
	}
	// New addresses; the cached ones are gone (the member list still
	// holds the old ones, which now lead nowhere).
	for i, m := range []string{"a", "b"} {
		lan.IP(t, "-n", lan.NS(m), "addr", "del", netlab.Addr(i)+"/24", "dev", "eth0")
		lan.IP(t, "-n", lan.NS(m), "addr", "add", netlab.Addr(i+10)+"/24", "dev", "eth0")
	}
	for _, d := range []string{dirA, dirB} {
		if err := os.Remove(filepath.Join(d, "peers.json")); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	ann.start()
	bob.start()
	tm.waitVoters(2)
	t.Logf("FIGURE members found each other over mDNS %.1f s after starting", time.Since(start).Seconds())
	if _, err := cli(t, "send", "--data", dirB, "found you"); err != nil {
		t.Fatal(err)
	}
	hs := tm.waitConverged()
	if len(hs["ann"]) != 1 || hs["ann"][0] != hs["bob"][0] {
		t.Fatalf("histories after rediscovery: %v", hs)
	}
}
