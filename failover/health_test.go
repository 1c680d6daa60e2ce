package failover

import (
	"sync/atomic"
	"testing"
	"time"

	"concord/internal/testutil"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Detection tests use these, as the brief for status/failover asks.
const (
	testInterval = 200 * time.Millisecond
	testTimeout  = 200 * time.Millisecond
	// detectBound is a generous ceiling on detection: Interval+Timeout
	// plus slack for -race on a loaded 2-core machine.
	detectBound = testInterval + testTimeout + 1500*time.Millisecond
)

func TestMonitorHealthyThenClosedHostDetected(t *testing.T) {
	a, b, c := newHost(t), newHost(t), newHost(t)
	serve(t, b, nil)
	serve(t, c, nil)
	connect(t, a, b)
	connect(t, a, c)

	start := time.Now()
	m := startMonitor(t, a, Config{Interval: testInterval, Timeout: testTimeout}, b.ID(), c.ID())
	ch, unsub := m.Subscribe()
	defer unsub()
	testutil.WaitFor(t, 5*time.Second, "b and c healthy", func() bool { return m.Healthy(b.ID()) && m.Healthy(c.ID()) })
	t.Logf("both peers healthy %v after Start", time.Since(start))

	for _, h := range m.Health() {
		if !h.Healthy || h.LastSeen.IsZero() || h.RTT <= 0 || h.Failures != 0 {
			t.Errorf("healthy peer record: %+v", h)
		}
	}
	seen := healthOf(t, m, b.ID()).LastSeen
	testutil.WaitFor(t, 5*time.Second, "LastSeen to advance", func() bool {
		return healthOf(t, m, b.ID()).LastSeen.After(seen)
	})

	closed := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	at := waitChange(t, ch, c.ID(), false, 10*time.Second)
	took := at.Sub(closed)
	t.Logf("closed host detected after %v (Interval %v, Timeout %v)", took, testInterval, testTimeout)
	if took > detectBound {
		t.Errorf("detection took %v, want under %v", took, detectBound)
	}
	if h := healthOf(t, m, c.ID()); h.Healthy || h.Failures < 1 {
		t.Errorf("dead peer record: %+v", h)
	}
	if !m.Healthy(b.ID()) {
		t.Error("b became unhealthy when c died")
	}
}

func TestMonitorDetectsHungPeer(t *testing.T) {
	a, b := newHost(t), newHost(t)
	r := serve(t, b, nil)
	connect(t, a, b)
	m := startMonitor(t, a, Config{Interval: testInterval, Timeout: testTimeout}, b.ID())
	ch, unsub := m.Subscribe()
	defer unsub()
	waitChange(t, ch, b.ID(), true, 5*time.Second)

	// b stays connected but stops answering.
	hung := time.Now()
	r.Unserve()
	blackhole(b)
	at := waitChange(t, ch, b.ID(), false, 10*time.Second)
	took := at.Sub(hung)
	t.Logf("hung (connected, silent) peer detected after %v (Interval %v, Timeout %v)", took, testInterval, testTimeout)
	if took > detectBound {
		t.Errorf("detection took %v, want under %v", took, detectBound)
	}
	if !a.IsConnected(b.ID()) {
		t.Error("timeouts dropped the connection to the hung peer")
	}
}

func TestMonitorRecoversWhenConnectionRestored(t *testing.T) {
	a, b := newHost(t), newHost(t)
	r := serve(t, b, nil)
	connect(t, a, b)
	m := startMonitor(t, a, Config{Interval: testInterval, Timeout: testTimeout}, b.ID())
	ch, unsub := m.Subscribe()
	defer unsub()
	waitChange(t, ch, b.ID(), true, 5*time.Second)

	r.Unserve()
	if err := a.Host().Network().ClosePeer(b.ID()); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, b.ID(), false, 10*time.Second)
	before := healthOf(t, m, b.ID()).LastSeen

	restored := time.Now()
	r.Serve(b.Host())
	at := waitChange(t, ch, b.ID(), true, 10*time.Second)
	t.Logf("recovery noticed %v after the responder came back", at.Sub(restored))
	if h := healthOf(t, m, b.ID()); !h.Healthy || h.Failures != 0 || !h.LastSeen.After(before) {
		t.Errorf("recovered record: %+v (LastSeen before %v)", h, before)
	}
	if !a.IsConnected(b.ID()) {
		t.Error("probing did not redial b")
	}
}

func TestMonitorAdmitRefusal(t *testing.T) {
	a, b, c := newHost(t), newHost(t), newHost(t)
	var admitA atomic.Bool
	admitA.Store(true)
	serve(t, b, func(id peer.ID) bool { return id != a.ID() || admitA.Load() })
	serve(t, a, nil)
	connect(t, a, b)
	connect(t, c, b)
	connect(t, c, a)
	ma := startMonitor(t, a, Config{Interval: testInterval, Timeout: testTimeout}, b.ID())
	mc := startMonitor(t, c, Config{Interval: testInterval, Timeout: testTimeout}, a.ID(), b.ID())
	ch, unsub := ma.Subscribe()
	defer unsub()
	waitChange(t, ch, b.ID(), true, 5*time.Second)

	admitA.Store(false)
	waitChange(t, ch, b.ID(), false, 10*time.Second)
	// b still answers c, and a is still healthy for c.
	testutil.WaitFor(t, 5*time.Second, "c to see a and b healthy", func() bool {
		return mc.Healthy(a.ID()) && mc.Healthy(b.ID())
	})
	seen := healthOf(t, mc, b.ID()).LastSeen
	testutil.WaitFor(t, 5*time.Second, "c's LastSeen of b to advance", func() bool {
		return healthOf(t, mc, b.ID()).LastSeen.After(seen)
	})
	if ma.Healthy(b.ID()) {
		t.Error("refused prober sees b healthy")
	}

	admitA.Store(true)
	waitChange(t, ch, b.ID(), true, 10*time.Second)
}

func TestMonitorSlowSubscriberOverNetwork(t *testing.T) {
	a, b := newHost(t), newHost(t)
	var admit atomic.Bool
	admit.Store(true)
	serve(t, b, func(peer.ID) bool { return admit.Load() })
	connect(t, a, b)
	m := startMonitor(t, a, Config{Interval: 50 * time.Millisecond, Timeout: testTimeout, SubscriberBuffer: 1}, b.ID())
	_, unsubSlow := m.Subscribe() // never read
	defer unsubSlow()
	fast, unsub := m.Subscribe()
	defer unsub()

	waitChange(t, fast, b.ID(), true, 5*time.Second)
	for range 2 {
		admit.Store(false)
		waitChange(t, fast, b.ID(), false, 10*time.Second)
		admit.Store(true)
		waitChange(t, fast, b.ID(), true, 10*time.Second)
	}
	if d := m.Dropped(); d != 4 {
		t.Errorf("Dropped = %d, want 4 (5 changes, room for 1)", d)
	}
	seen := healthOf(t, m, b.ID()).LastSeen
	testutil.WaitFor(t, 5*time.Second, "monitor still probing", func() bool {
		return healthOf(t, m, b.ID()).LastSeen.After(seen)
	})
}

func TestMonitorPeersChangeEachRound(t *testing.T) {
	a, b, c := newHost(t), newHost(t), newHost(t)
	serve(t, b, nil)
	serve(t, c, nil)
	connect(t, a, b)
	connect(t, a, c)
	team := &teamSet{}
	team.set(b.ID())
	m := startMonitor(t, a, Config{Interval: 50 * time.Millisecond, Timeout: testTimeout, Peers: team.get})
	testutil.WaitFor(t, 5*time.Second, "b healthy", func() bool { return m.Healthy(b.ID()) })
	team.set(c.ID(), a.ID())
	testutil.WaitFor(t, 5*time.Second, "only c watched", func() bool {
		hs := m.Health()
		return len(hs) == 1 && hs[0].ID == c.ID() && hs[0].Healthy
	})
	testutil.WaitFor(t, 5*time.Second, "b's probe stream closed", func() bool { return probeStreams(a, b) == 0 })
}

func TestMonitorCloseLeavesNoGoroutines(t *testing.T) {
	a, b, c := newHost(t), newHost(t), newHost(t)
	serve(t, b, nil)
	blackhole(c) // a probe is in flight most of the time
	connect(t, a, b)
	connect(t, a, c)
	m := startMonitor(t, a, Config{Interval: 20 * time.Millisecond, Timeout: 5 * time.Second}, b.ID(), c.ID())
	ch, _ := m.Subscribe()
	testutil.WaitFor(t, 5*time.Second, "b healthy", func() bool { return m.Healthy(b.ID()) })

	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v with a probe in flight (Timeout 5s)", took)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range ch {
	}
	noGoroutinesIn(t, 5*time.Second, "failover.(*Monitor)", "failover.(*Prober)")
	testutil.WaitFor(t, 5*time.Second, "probe streams reset", func() bool {
		return probeStreams(a, b) == 0 && probeStreams(a, c) == 0
	})
}

// TestMonitorPeerRestartsWithSameIdentity restarts b from its data
// directory (same peer ID, new port): the p2p layer's team redial brings it
// back and the monitor sees it healthy again.
func TestMonitorPeerRestartsWithSameIdentity(t *testing.T) {
	a := newHost(t)
	dirB := t.TempDir()
	b := newHostIn(t, dirB)
	serve(t, b, nil)
	connect(t, b, a)
	b.AddPeer(a.ID(), a.Host().Addrs()) // b's peers.json now knows a
	m := startMonitor(t, a, Config{Interval: testInterval, Timeout: testTimeout}, b.ID())
	ch, unsub := m.Subscribe()
	defer unsub()
	waitChange(t, ch, b.ID(), true, 5*time.Second)

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, b.ID(), false, 10*time.Second)
	restarted := time.Now()
	b2 := newHostIn(t, dirB)
	if b2.ID() != b.ID() {
		t.Fatalf("identity changed on restart: %s -> %s", b.ID(), b2.ID())
	}
	serve(t, b2, nil)
	at := waitChange(t, ch, b.ID(), true, 15*time.Second)
	t.Logf("restarted peer healthy again %v after it came back", at.Sub(restarted))
}
