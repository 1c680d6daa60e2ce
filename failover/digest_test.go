package failover

import (
	"context"
	"sync"
	"testing"
	"time"

	"concord/p2p"
	"concord/storage"

	"github.com/libp2p/go-libp2p/core/peer"
)

func dg(b byte) [32]byte { return [32]byte{b} }

func chain(base, applied uint64, ring ...storage.IndexDigest) storage.DigestChain {
	return storage.DigestChain{Version: storage.DigestVersion, Base: base, Applied: applied, Ring: ring}
}

func TestCompareChains(t *testing.T) {
	a := chain(0, 30, storage.IndexDigest{Index: 0, Digest: dg(0)}, storage.IndexDigest{Index: 10, Digest: dg(1)},
		storage.IndexDigest{Index: 20, Digest: dg(2)}, storage.IndexDigest{Index: 30, Digest: dg(3)})
	tests := []struct {
		name          string
		local, remote storage.DigestChain
		ok            bool
		at, diverged  uint64
	}{
		{"same", a, a, true, 30, 0},
		{"remote behind, same so far", a, chain(0, 25, a.Ring[:3]...), true, 25, 0},
		{"parted at 20", a, chain(0, 30, a.Ring[0], a.Ring[1], storage.IndexDigest{Index: 20, Digest: dg(9)},
			storage.IndexDigest{Index: 30, Digest: dg(8)}), true, 30, 20},
		{"parted at an index only one side changed at", a, chain(0, 30, a.Ring[0], a.Ring[1],
			storage.IndexDigest{Index: 15, Digest: dg(9)}, storage.IndexDigest{Index: 20, Digest: dg(8)}), true, 30, 15},
		{"differ from the overlap's start", chain(0, 30, storage.IndexDigest{Index: 20, Digest: dg(2)}),
			chain(0, 30, storage.IndexDigest{Index: 10, Digest: dg(5)}, storage.IndexDigest{Index: 30, Digest: dg(6)}), true, 30, 20},
		{"other bases", a, chain(5, 30, storage.IndexDigest{Index: 5, Digest: dg(0)}), false, 0, 0},
		{"no chain yet", a, chain(30, 30), false, 0, 0},
		{"rings do not overlap", a, chain(0, 200, storage.IndexDigest{Index: 100, Digest: dg(7)}), false, 0, 0},
		{"nothing applied", chain(0, 0, a.Ring[0]), chain(0, 0, a.Ring[0]), false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, div, ok, reason := compareChains(tt.local, tt.remote)
			if ok != tt.ok || at != tt.at || div != tt.diverged {
				t.Fatalf("compareChains = at %d diverged %d ok %v (%s), want at %d diverged %d ok %v",
					at, div, ok, reason, tt.at, tt.diverged, tt.ok)
			}
			if !ok && reason == "" {
				t.Fatal("no reason for an impossible comparison")
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	ok := PeerConsistency{State: ConsistencyOK, CheckedIndex: 40}
	div := PeerConsistency{State: ConsistencyDiverged, CheckedIndex: 41, DivergedAt: 17}
	unk := PeerConsistency{State: ConsistencyUnknown}
	tests := []struct {
		name       string
		peers      []PeerConsistency
		state      string
		checked    uint64
		divergedAt uint64
	}{
		{"nobody compared", []PeerConsistency{unk, unk}, ConsistencyUnknown, 0, 0},
		{"all agree", []PeerConsistency{ok, ok, unk}, ConsistencyOK, 40, 0},
		{"a peer is the odd one out", []PeerConsistency{ok, div}, ConsistencyOK, 41, 0},
		{"this member is the odd one out", []PeerConsistency{div, div, ok}, ConsistencyDiverged, 41, 17},
		{"one peer, differs: no majority", []PeerConsistency{div}, ConsistencyDiverged, 41, 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := verdict(tt.peers)
			if c.State != tt.state || c.CheckedIndex != tt.checked || c.DivergedAt != tt.divergedAt {
				t.Fatalf("verdict = %s checked %d diverged at %d, want %s %d %d", c.State, c.CheckedIndex,
					c.DivergedAt, tt.state, tt.checked, tt.divergedAt)
			}
		})
	}
}

// fakeChain is a member's chain that a test changes underneath.
type fakeChain struct {
	mu sync.Mutex
	c  storage.DigestChain
}

func (f *fakeChain) get() (storage.DigestChain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c, nil
}

func (f *fakeChain) set(c storage.DigestChain) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.c = c
}

// TestDigestCheckerOverTheWire runs three checkers on real hosts: all
// agree, then one chain parts and both sides say who is odd; a stranger
// is refused.
func TestDigestCheckerOverTheWire(t *testing.T) {
	hosts := []*p2pHost{{h: newHost(t)}, {h: newHost(t)}, {h: newHost(t)}}
	base := chain(0, 20, storage.IndexDigest{Index: 0, Digest: dg(0)}, storage.IndexDigest{Index: 20, Digest: dg(1)})
	for i, x := range hosts {
		for j, y := range hosts {
			if i < j {
				connect(t, x.h, y.h)
			}
		}
	}
	members := map[peer.ID]bool{}
	for _, x := range hosts {
		members[x.h.ID()] = true
	}
	for _, x := range hosts {
		x.chain.set(base)
		var others []peer.ID
		for _, y := range hosts {
			if y != x {
				others = append(others, y.h.ID())
			}
		}
		d, err := NewDigestChecker(DigestConfig{Host: x.h.Host(), Local: x.chain.get,
			Peers: func() []peer.ID { return others }, Admit: func(p peer.ID) bool { return members[p] },
			Interval: time.Hour, FirstDelay: time.Hour, Timeout: 5 * time.Second, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		d.Start()
		t.Cleanup(func() { _ = d.Close() })
		x.d = d
	}
	ctx := t.Context()
	for _, x := range hosts {
		if c := x.d.Round(ctx); c.State != ConsistencyOK || c.CheckedIndex != 20 {
			t.Fatalf("all equal: %+v", c)
		}
	}
	odd := hosts[2]
	odd.chain.set(chain(0, 30, base.Ring[0], base.Ring[1], storage.IndexDigest{Index: 25, Digest: dg(9)}))
	for _, x := range hosts[:2] {
		x.chain.set(chain(0, 30, base.Ring[0], base.Ring[1], storage.IndexDigest{Index: 25, Digest: dg(2)}))
	}
	for _, x := range hosts[:2] {
		c := x.d.Round(ctx)
		if c.State != ConsistencyOK {
			t.Fatalf("a member that agrees with the majority: %+v", c)
		}
		for _, p := range c.Peers {
			want := ConsistencyOK
			if p.ID == odd.h.ID() {
				want = ConsistencyDiverged
			}
			if p.State != want || (want == ConsistencyDiverged && p.DivergedAt != 25) {
				t.Fatalf("peer %s: %+v, want %s", p.ID, p, want)
			}
		}
	}
	if c := odd.d.Round(ctx); c.State != ConsistencyDiverged || c.DivergedAt != 25 {
		t.Fatalf("the odd member: %+v", c)
	}
	if c := odd.d.Status(); c.State != ConsistencyDiverged {
		t.Fatalf("Status after the round: %+v", c)
	}

	// A host that is not a member gets no answer.
	stranger := newHost(t)
	connect(t, stranger, hosts[0].h)
	sd, err := NewDigestChecker(DigestConfig{Host: stranger.Host(), Local: odd.chain.get,
		Peers: func() []peer.ID { return []peer.ID{hosts[0].h.ID()} }, Admit: func(peer.ID) bool { return true },
		Timeout: 5 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	if c := sd.Round(ctx); c.State != ConsistencyUnknown || c.Peers[0].Reason != "not reachable" {
		t.Fatalf("a stranger's round: %+v", c)
	}
}

type p2pHost struct {
	h     *p2p.Host
	chain fakeChain
	d     *DigestChecker
}

func TestDigestCheckerCloseStopsLoop(t *testing.T) {
	h := newHost(t)
	rounds := make(chan struct{}, 100)
	d, err := NewDigestChecker(DigestConfig{Host: h.Host(),
		Local: func() (storage.DigestChain, error) { return storage.DigestChain{}, nil },
		Peers: func() []peer.ID {
			select {
			case rounds <- struct{}{}:
			default:
			}
			return nil
		}, Admit: func(peer.ID) bool { return true },
		Interval: time.Millisecond, FirstDelay: time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for range 3 {
		select {
		case <-rounds:
		case <-ctx.Done():
			t.Fatal("no rounds")
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
}
