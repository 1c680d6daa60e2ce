package p2p

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"concord/internal/testutil"
)

const reconnectTimeout = 15 * time.Second

func randomPeerID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func readPeersFile(t *testing.T, dir string) peersFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, PeersFile))
	if err != nil {
		t.Fatalf("reading peers.json: %v", err)
	}
	var pf peersFile
	if err := json.Unmarshal(data, &pf); err != nil {
		t.Fatalf("decoding peers.json: %v", err)
	}
	return pf
}

func TestTeamProtection(t *testing.T) {
	a, b, c := mustNewHost(t), mustNewHost(t), mustNewHost(t)
	cm := a.Host().ConnManager()

	a.SetTeam([]peer.ID{a.ID(), b.ID(), c.ID()}) // own ID is skipped
	for _, tt := range []struct {
		name string
		id   peer.ID
		want bool
	}{
		{"b", b.ID(), true},
		{"c", c.ID(), true},
		{"self", a.ID(), false},
	} {
		if got := cm.IsProtected(tt.id, TeamProtectTag); got != tt.want {
			t.Errorf("after SetTeam(a,b,c): IsProtected(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}

	a.SetTeam([]peer.ID{b.ID()})
	if !cm.IsProtected(b.ID(), TeamProtectTag) {
		t.Error("b unprotected although still in the team")
	}
	if cm.IsProtected(c.ID(), TeamProtectTag) {
		t.Error("c still protected after leaving the team")
	}
	if pf := readPeersFile(t, a.dataDir); len(pf.Peers) != 1 || pf.Peers[0].ID != b.ID().String() {
		t.Errorf("peers.json = %+v, want only b", pf.Peers)
	}

	d := randomPeerID(t)
	a.AddPeer(d, nil)
	if !cm.IsProtected(d, TeamProtectTag) {
		t.Error("AddPeer did not make the peer a protected team peer")
	}
}

func TestSetTeamConnectsAndCounts(t *testing.T) {
	a, b, c := mustNewHost(t), mustNewHost(t), mustNewHost(t)
	if got := a.TeamConnected(); got != 0 {
		t.Fatalf("TeamConnected with no team = %d", got)
	}
	// Addresses first (AddPeer joins the team), then the authoritative set.
	a.AddPeer(b.ID(), p2pAddrs(t, b))
	a.AddPeer(c.ID(), c.Host().Addrs())
	a.SetTeam([]peer.ID{a.ID(), b.ID(), c.ID()})
	testutil.WaitFor(t, reconnectTimeout, "both team peers connected", func() bool { return a.TeamConnected() == 2 })
	// The dialled side registers the connection a moment after the dialler.
	testutil.WaitFor(t, reconnectTimeout, "b to see the connection from a", func() bool { return b.IsConnected(a.ID()) })
}

func TestRestartReconnectsFromPeerCache(t *testing.T) {
	dirA := t.TempDir()
	a := mustNewHostIn(t, dirA)
	b := mustNewHost(t)
	idA := a.ID()

	a.AddPeer(b.ID(), p2pAddrs(t, b))
	a.SetTeam([]peer.ID{a.ID(), b.ID()})
	testutil.WaitFor(t, reconnectTimeout, "a connected to b", func() bool { return a.IsConnected(b.ID()) })
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	testutil.WaitFor(t, reconnectTimeout, "b sees a gone", func() bool { return !b.IsConnected(idA) })

	pf := readPeersFile(t, dirA)
	if len(pf.Peers) != 1 || pf.Peers[0].ID != b.ID().String() || len(pf.Peers[0].Addrs) == 0 {
		t.Fatalf("peers.json = %+v, want b with addresses", pf.Peers)
	}

	// Restart with no address and no SetTeam: the cache alone must do.
	a2 := mustNewHostIn(t, dirA)
	if a2.ID() != idA {
		t.Fatalf("restarted with a different identity")
	}
	testutil.WaitFor(t, reconnectTimeout, "restarted a reconnects to b", func() bool {
		return a2.IsConnected(b.ID()) && a2.TeamConnected() == 1
	})
	if !a2.Host().ConnManager().IsProtected(b.ID(), TeamProtectTag) {
		t.Error("cached team peer not protected after restart")
	}
}

func TestPeerCacheTracksNewAddress(t *testing.T) {
	// b restarts on a new port and dials a itself: a must save b's new
	// address (learnt from the connection and identify) and drop the old.
	dirB := t.TempDir()
	a := mustNewHost(t)
	b := mustNewHostIn(t, dirB)
	oldAddrs := b.Host().Addrs()

	a.AddPeer(b.ID(), oldAddrs)
	testutil.WaitFor(t, reconnectTimeout, "a connected to b", func() bool { return a.IsConnected(b.ID()) })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := mustNewHostIn(t, dirB)
	if err := b2.Connect(t.Context(), addrInfo(t, a)); err != nil {
		t.Fatalf("b2 Connect: %v", err)
	}
	newAddr := b2.Host().Addrs()[0].String()
	testutil.WaitFor(t, reconnectTimeout, "peers.json holds b's new address only", func() bool {
		data, err := os.ReadFile(filepath.Join(a.dataDir, PeersFile))
		if err != nil {
			return false
		}
		var pf peersFile
		if json.Unmarshal(data, &pf) != nil || len(pf.Peers) != 1 {
			return false
		}
		hasNew, hasOld := false, false
		for _, s := range pf.Peers[0].Addrs {
			hasNew = hasNew || s == newAddr
			for _, o := range oldAddrs {
				hasOld = hasOld || s == o.String()
			}
		}
		return hasNew && !hasOld
	})
}

func TestKeepConnectedRedials(t *testing.T) {
	a, b := mustNewHost(t), mustNewHost(t)
	a.AddPeer(b.ID(), p2pAddrs(t, b))
	a.SetTeam([]peer.ID{b.ID()})
	testutil.WaitFor(t, reconnectTimeout, "a connected to b", func() bool { return a.IsConnected(b.ID()) })

	for round := range 3 {
		before := map[string]bool{}
		for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
			before[c.ID()] = true
		}
		if err := a.Host().Network().ClosePeer(b.ID()); err != nil {
			t.Fatalf("ClosePeer: %v", err)
		}
		testutil.WaitFor(t, reconnectTimeout, "a redials b", func() bool {
			for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
				if !before[c.ID()] && c.Stat().Direction == network.DirOutbound {
					return true
				}
			}
			return false
		})
		t.Logf("round %d: redialled", round+1)
	}
}

func TestKeepConnectedWaitsForPeerToComeBack(t *testing.T) {
	// b is down when a starts dialling; a keeps retrying with backoff and
	// connects once b listens again at the same address.
	a := mustNewHost(t)
	dirB := t.TempDir()
	b := mustNewHostIn(t, dirB)
	addrs := b.Host().Addrs()
	idB := b.ID()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	a.AddPeer(idB, addrs)
	// Wait until a dial has failed: the swarm then backs b's address off
	// for 5 s, which the keep-connected loop must override.
	sw, ok := a.Host().Network().(*swarm.Swarm)
	if !ok {
		t.Fatalf("network is %T, not *swarm.Swarm", a.Host().Network())
	}
	testutil.WaitFor(t, reconnectTimeout, "a failed dial to b", func() bool {
		return sw.Backoff().Backoff(idB, addrs[0])
	})
	strs := make([]string, len(addrs))
	for i, m := range addrs {
		strs[i] = m.String()
	}
	b2, err := New(t.Context(), Config{DataDir: dirB, Listen: strs, Logger: testLogger(t)})
	if err != nil {
		t.Skipf("cannot rebind b's old port (%v); skipping", err)
	}
	t.Cleanup(func() { _ = b2.Close() })
	// Well under the swarm's 5 s backoff: our own backoff is still short.
	testutil.WaitFor(t, 4*time.Second, "a reconnects to returning b", func() bool { return a.IsConnected(idB) })
}

func TestCorruptPeerCacheIgnored(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"not json", "{{{"},
		{"wrong version", `{"version": 99, "peers": [{"id": "x"}]}`},
		{"bad entries", `{"version": 1, "peers": [{"id": "nope", "addrs": ["/ip4/127.0.0.1/tcp/1"]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, PeersFile), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			h := mustNewHostIn(t, dir)
			if n := len(h.teamIDs()); n != 0 {
				t.Fatalf("team from corrupt cache has %d peers", n)
			}
		})
	}
}

func TestPeerCacheSkipsBadAddress(t *testing.T) {
	dir := t.TempDir()
	id := randomPeerID(t)
	good := "/ip4/127.0.0.1/tcp/9"
	pf := peersFile{Version: 1, Peers: []peerEntry{{ID: id.String(), Addrs: []string{"garbage", good}}}}
	data, err := json.Marshal(pf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, PeersFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := mustNewHostIn(t, dir)
	want, err := ma.NewMultiaddr(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Host().Peerstore().Addrs(id); len(got) != 1 || !got[0].Equal(want) {
		t.Fatalf("peerstore addrs = %v, want [%s]", got, good)
	}
	if !h.Host().ConnManager().IsProtected(id, TeamProtectTag) {
		t.Error("cached peer not protected")
	}
}

func TestAddPeerIgnoresForeignAddrs(t *testing.T) {
	a, b, c := mustNewHost(t), mustNewHost(t), mustNewHost(t)
	// One of c's addresses, wrongly filed under b, must be dropped.
	a.AddPeer(b.ID(), append(p2pAddrs(t, b), p2pAddrs(t, c)...))
	for _, m := range a.Host().Peerstore().Addrs(b.ID()) {
		for _, cm := range c.Host().Addrs() {
			if m.Equal(cm) {
				t.Fatalf("c's address %s stored for b", m)
			}
		}
	}
	testutil.WaitFor(t, reconnectTimeout, "a connected to b", func() bool { return a.IsConnected(b.ID()) })
}
