package p2p

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"concord/internal/netlab"
)

func TestServiceName(t *testing.T) {
	teams := []string{"", "team-1", "team-2", "Team-1", strings.Repeat("x", 1000), "équipe 🚀"}
	seen := map[string]string{}
	for _, team := range teams {
		name := ServiceName(team)
		if !validServiceName(name) {
			t.Errorf("ServiceName(%q) = %q: not a valid DNS-SD service name", team, name)
		}
		if again := ServiceName(team); again != name {
			t.Errorf("ServiceName(%q) is not stable: %q then %q", team, name, again)
		}
		if team != "" && strings.Contains(name, strings.ToLower(team)) {
			t.Errorf("ServiceName(%q) = %q reveals the team ID", team, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("teams %q and %q share service name %q", other, team, name)
		}
		seen[name] = team
	}
}

// TestServiceNamePinned guards the derivation: a change would split a team
// whose members run different versions.
func TestServiceNamePinned(t *testing.T) {
	if got, want := ServiceName("team-1"), "_concord-4b28b27._udp"; got != want {
		t.Fatalf("ServiceName(team-1) = %q, want %q", got, want)
	}
}

func TestValidServiceName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"libp2p default", "_p2p._udp", true},
		{"tcp", "_http._tcp", true},
		{"fifteen chars", "_abcdefghijklmno._udp", true},
		{"hyphen inside", "_concord-1a2b3c4._udp", true},
		{"empty", "", false},
		{"no underscore", "p2p._udp", false},
		{"no protocol", "_p2p", false},
		{"other protocol", "_p2p._sctp", false},
		{"sixteen chars", "_abcdefghijklmnop._udp", false},
		{"empty name", "_._udp", false},
		{"leading hyphen", "_-ab._udp", false},
		{"trailing hyphen", "_ab-._udp", false},
		{"double hyphen", "_a--b._udp", false},
		{"digits only", "_1234._udp", false},
		{"uppercase", "_P2P._udp", false},
		{"dot inside", "_a.b._udp", false},
		{"with domain", "_p2p._udp.local", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validServiceName(tt.in); got != tt.want {
				t.Errorf("validServiceName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLanTCPAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"/ip4/10.77.1.2/tcp/4001", true},
		{"/ip4/192.168.1.5/tcp/1", true},
		{"/ip6/fd00::5/tcp/4001", true},
		{"/ip4/127.0.0.1/tcp/4001", false},
		{"/ip6/::1/tcp/4001", false},
		{"/ip4/0.0.0.0/tcp/4001", false},
		{"/ip6/fe80::1/tcp/4001", false},
		{"/ip4/10.77.1.2/udp/4001/quic-v1", false},
		{"/ip4/10.77.1.2/tcp/4001/ws", false},
		{"/dns4/member.local/tcp/4001", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := lanTCPAddr(ma.StringCast(tt.addr)); got != tt.want {
				t.Errorf("lanTCPAddr(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

// TestStartDiscoveryRefuses checks the argument and lifecycle errors. None
// of these cases starts multicast, so it runs in the test's own network
// namespace without announcing anything.
func TestStartDiscoveryRefuses(t *testing.T) {
	hs := mustNewHost(t)
	found := func(peer.AddrInfo) {}
	for _, service := range []string{"", "_p2p", "concord._udp", "_Concord._udp"} {
		if _, err := hs.StartDiscovery(service, found); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("StartDiscovery(%q) error = %v, want ErrInvalidConfig", service, err)
		}
	}
	if _, err := hs.StartDiscovery(ServiceName("t"), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("StartDiscovery with nil callback: error = %v, want ErrInvalidConfig", err)
	}
	if err := hs.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := hs.StartDiscovery(ServiceName("t"), found); !errors.Is(err, ErrClosed) {
		t.Errorf("StartDiscovery after Close: error = %v, want ErrClosed", err)
	}
}

// TestDiscoveryLifecycle starts discovery on a host that listens on
// loopback only: it has no LAN address, so nothing is announced, browsed or
// sent. Discovery.Close is idempotent, and the Host's Close stops (and
// waits for) a discovery nobody closed.
func TestDiscoveryLifecycle(t *testing.T) {
	hs := mustNewHost(t)
	found := func(peer.AddrInfo) { t.Error("found called on a host with no LAN address") }
	d1, err := hs.StartDiscovery(ServiceName("t"), found)
	if err != nil {
		t.Fatalf("StartDiscovery: %v", err)
	}
	if err := d1.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := d1.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	d2, err := hs.StartDiscovery(ServiceName("t"), found)
	if err != nil {
		t.Fatalf("second StartDiscovery: %v", err)
	}
	if err := hs.Close(); err != nil {
		t.Fatalf("Host.Close: %v", err)
	}
	select {
	case <-d2.done:
	default:
		t.Fatal("Host.Close returned before the discovery it did not close had stopped")
	}
	if err := d2.Close(); err != nil {
		t.Errorf("Close after Host.Close: %v", err)
	}
}

// TestMDNSDiscoveryNetns runs four members, each in its own network
// namespace on one bridged LAN (10.77.1.0/24): A and B of one team, C and D
// of another. Nobody is given an address. Each member must find and
// connect to its teammate, and never report the other team's members.
func TestMDNSDiscoveryNetns(t *testing.T) {
	lan := netlab.NewLAN(t, []string{"a", "b", "c", "d"})
	teamAB, teamCD := ServiceName("team-ab"), ServiceName("team-cd")
	start := time.Now()
	members := map[string]*mdnsChild{
		"a": startMDNSChild(t, lan, "a", teamAB, ""),
		"b": startMDNSChild(t, lan, "b", teamAB, ""),
		"c": startMDNSChild(t, lan, "c", teamCD, ""),
		"d": startMDNSChild(t, lan, "d", teamCD, ""),
	}
	ids := map[string]peer.ID{}
	for name, m := range members {
		ids[name] = m.waitID(t, 60*time.Second)
	}
	pairs := [][2]string{{"a", "b"}, {"b", "a"}, {"c", "d"}, {"d", "c"}}
	for _, p := range pairs {
		ev := members[p[0]].waitEvent(t, 60*time.Second, "CONNECTED", ids[p[1]])
		found := members[p[0]].event("FOUND", ids[p[1]])
		if found == nil {
			t.Fatalf("%s connected to %s without finding it", p[0], p[1])
		}
		if !strings.HasPrefix(found.rest, "[/ip4/10.77.1.") || strings.Contains(found.rest, "127.0.0.1") {
			t.Errorf("%s found %s at %s, want its 10.77.1.0/24 address only", p[0], p[1], found.rest)
		}
		t.Logf("%s found %s %v after its StartDiscovery (%v after the test started its processes); connected %v after StartDiscovery; addrs %s",
			p[0], p[1], found.sinceStart, found.at.Sub(start).Round(time.Millisecond), ev.sinceStart, found.rest)
	}
	stopping := time.Now()
	for _, m := range members {
		m.askToStop() // all at once: a race-enabled child lingers 1 s at exit
	}
	for _, m := range members {
		m.stop(t, 30*time.Second)
	}
	t.Logf("all four stopped in %v", time.Since(stopping).Round(time.Millisecond))
	for name, m := range members {
		for other, id := range ids {
			sameTeam := (name == "a" || name == "b") == (other == "a" || other == "b")
			if !sameTeam && m.event("FOUND", id) != nil {
				t.Errorf("%s (team %s) reported %s of the other team", name, m.service, other)
			}
		}
	}
}

// TestMDNSRediscoveryNetns checks that two members find each other again,
// with no address given, after one restarts (same identity, new port) and
// after its IP address changes (announced within discoveryRecheck, 10 s).
func TestMDNSRediscoveryNetns(t *testing.T) {
	lan := netlab.NewLAN(t, []string{"a", "b"})
	team := ServiceName("team-ab")
	bDir := filepath.Join(t.TempDir(), "b")
	a := startMDNSChild(t, lan, "a", team, "")
	b := startMDNSChild(t, lan, "b", team, bDir)
	idA, idB := a.waitID(t, 60*time.Second), b.waitID(t, 60*time.Second)
	a.waitEvent(t, 60*time.Second, "CONNECTED", idB)
	b.waitEvent(t, 60*time.Second, "CONNECTED", idA)

	// Restart: same identity (same data directory), new port.
	b.stop(t, 30*time.Second)
	restarted := time.Now()
	b = startMDNSChild(t, lan, "b", team, bDir)
	if id := b.waitID(t, 60*time.Second); id != idB {
		t.Fatalf("restarted b has peer ID %s, want %s", id, idB)
	}
	port := tcpPort(t, b.event("ID", idB).rest, "10.77.1.2")
	found := a.waitMatch(t, 60*time.Second, "FOUND b on its new port "+port, func(e mdnsEvent) bool {
		return e.kind == "FOUND" && e.peer == idB && strings.Contains(e.rest, "/ip4/10.77.1.2/tcp/"+port)
	})
	t.Logf("a found restarted b %v after it was started again", found.at.Sub(restarted).Round(time.Millisecond))
	a.waitMatch(t, 60*time.Second, "CONNECTED to restarted b", func(e mdnsEvent) bool {
		return e.kind == "CONNECTED" && e.peer == idB && !e.at.Before(found.at)
	})
	b.waitEvent(t, 60*time.Second, "FOUND", idA)

	// New IP address: b moves from 10.77.1.2 to 10.77.1.12 (deleted
	// first: deleting a primary address deletes its secondaries).
	changed := time.Now()
	lan.IP(t, "-n", lan.NS("b"), "addr", "del", "10.77.1.2/24", "dev", "eth0")
	lan.IP(t, "-n", lan.NS("b"), "addr", "add", "10.77.1.12/24", "dev", "eth0")
	moved := "/ip4/10.77.1.12/tcp/" + port
	found = a.waitMatch(t, 60*time.Second, "FOUND b at "+moved, func(e mdnsEvent) bool {
		return e.kind == "FOUND" && e.peer == idB && strings.Contains(e.rest, moved)
	})
	t.Logf("a found b at its new address %s %v after the change", moved, found.at.Sub(changed).Round(time.Millisecond))

	a.askToStop()
	b.askToStop()
	a.stop(t, 30*time.Second)
	b.stop(t, 30*time.Second)
}

// tcpPort returns the TCP port of the address on ip in addrs, a
// comma-separated list of multiaddrs.
func tcpPort(t *testing.T, addrs, ip string) string {
	t.Helper()
	for _, a := range strings.Split(addrs, ",") {
		if rest, ok := strings.CutPrefix(a, "/ip4/"+ip+"/tcp/"); ok {
			port, _, _ := strings.Cut(rest, "/")
			return port
		}
	}
	t.Fatalf("no TCP address on %s in %q", ip, addrs)
	return ""
}

// mdnsEvent is one line a helper process printed: "MDNS KIND PEER
// SINCE_START REST...".
type mdnsEvent struct {
	kind       string
	peer       peer.ID
	sinceStart time.Duration // in the child, since StartDiscovery
	rest       string
	at         time.Time // when the parent read it
}

func (e mdnsEvent) String() string {
	return fmt.Sprintf("%s %s %v %s", e.kind, e.peer, e.sinceStart, e.rest)
}

// TestMDNSClosedNetns: two teams with their own network keys and closed
// gaters share one LAN AND one service name; members still find and connect
// to their teammates only.
func TestMDNSClosedNetns(t *testing.T) {
	lan := netlab.NewLAN(t, []string{"a", "b", "c", "d"})
	service := ServiceName("same")
	dirs, ids := map[string]string{}, map[string]peer.ID{}
	for _, n := range []string{"a", "b", "c", "d"} {
		dirs[n] = filepath.Join(t.TempDir(), n)
		if err := os.MkdirAll(dirs[n], 0o700); err != nil {
			t.Fatal(err)
		}
		k, err := LoadIdentity(dirs[n])
		if err != nil {
			t.Fatal(err)
		}
		ids[n], _ = peer.IDFromPrivateKey(k)
	}
	env := func(psk string, allowed ...string) []string {
		var a []string
		for _, n := range allowed {
			a = append(a, ids[n].String())
		}
		return []string{"CONCORD_TEST_MDNS_PSK=" + psk, "CONCORD_TEST_MDNS_ALLOWED=" + strings.Join(a, ",")}
	}
	k1, k2 := strings.Repeat("1", 32), strings.Repeat("2", 32)
	m := map[string]*mdnsChild{
		"a": startMDNSChild(t, lan, "a", service, dirs["a"], env(k1, "b")...),
		"b": startMDNSChild(t, lan, "b", service, dirs["b"], env(k1, "a")...),
		"c": startMDNSChild(t, lan, "c", service, dirs["c"], env(k2, "d")...),
		"d": startMDNSChild(t, lan, "d", service, dirs["d"], env(k2, "c")...),
	}
	for _, p := range [][2]string{{"a", "b"}, {"b", "a"}, {"c", "d"}, {"d", "c"}} {
		ev := m[p[0]].waitEvent(t, 60*time.Second, "CONNECTED", ids[p[1]])
		t.Logf("%s connected to %s %v after StartDiscovery", p[0], p[1], ev.sinceStart)
	}
	for _, c := range m {
		c.askToStop()
	}
	for n, c := range m {
		c.stop(t, 30*time.Second)
		for o, id := range ids {
			same := (n == "a" || n == "b") == (o == "a" || o == "b")
			if !same && c.event("CONNECTED", id) != nil {
				t.Errorf("%s connected to %s of the other team", n, o)
			}
		}
		c.mu.Lock()
		t.Logf("%s events: %v", n, c.events)
		c.mu.Unlock()
	}
}
