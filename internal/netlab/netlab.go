// Package netlab builds private LANs out of network namespaces for tests
// that need hosts with their own addresses and multicast (which loopback
// lacks): LAN discovery, address changes. Test support only.
package netlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// seq keeps namespace names unique across -count runs in one process.
var seq atomic.Int64

// LAN is a private LAN, 10.77.1.0/24: a hub namespace holding a
// bridge, and one namespace per member, linked to the bridge by a veth pair
// whose member end is eth0 (10.77.1.N/24, multicast on). Nothing is created
// in the test's own namespace.
type LAN struct {
	ns map[string]string // member name → namespace name
}

// NS is the namespace of member name.
func (l *LAN) NS(name string) string { return l.ns[name] }

// Addr is the LAN address of the i-th member (from 0), as created.
func Addr(i int) string { return fmt.Sprintf("10.77.1.%d", i+1) }

// NewLAN creates the LAN and deletes it (with every link in it) when
// the test ends, failed or not. It skips the test under -short, when not
// root, without the ip command, or where namespaces cannot be created.
func NewLAN(t testing.TB, members []string) *LAN {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: network namespaces need root (mDNS cannot be tested on loopback, which has no multicast)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: the ip command (iproute2) is needed to create network namespaces")
	}
	base := fmt.Sprintf("concord-lan-%d-%d", os.Getpid(), seq.Add(1))
	lan := &LAN{ns: make(map[string]string, len(members))}
	run := func(args ...string) { t.Helper(); lan.IP(t, args...) }
	first := true
	addNS := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput()
		cancel()
		switch {
		case err != nil && first:
			// Root in an unprivileged container cannot.
			t.Skipf("skipping: cannot create a network namespace (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
		case err != nil:
			t.Fatalf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
		first = false
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(ctx, "ip", "netns", "del", name).CombinedOutput(); err != nil {
				t.Errorf("deleting network namespace %s: %v: %s", name, err, bytes.TrimSpace(out))
			}
		})
	}

	hub := base + "-hub"
	addNS(hub)
	run("-n", hub, "link", "set", "lo", "up")
	// No IGMP snooping: nothing on this LAN answers IGMP queries.
	run("-n", hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	run("-n", hub, "link", "set", "br0", "up")

	for i, m := range members {
		ns := base + "-" + m
		addNS(ns)
		lan.ns[m] = ns
		port := "to-" + m
		// Both ends are created in their namespaces directly.
		run("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", hub)
		run("-n", ns, "link", "set", "lo", "up")
		run("-n", ns, "addr", "add", fmt.Sprintf("10.77.1.%d/24", i+1), "dev", "eth0")
		run("-n", ns, "link", "set", "eth0", "multicast", "on", "up")
		run("-n", hub, "link", "set", port, "master", "br0", "multicast", "on", "up")
	}
	return lan
}

// IP runs the ip command with args, failing the test on error.
func (l *LAN) IP(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}
