package failover

import (
	"cmp"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"concord/internal/testutil"

	"github.com/libp2p/go-libp2p/core/peer"
)

var errFake = errors.New("fake probe failure")

func TestConfigValidate(t *testing.T) {
	h := newHost(t)
	peers := func() []peer.ID { return nil }
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{Host: h.Host(), Peers: peers}, true},
		{"no host", Config{Peers: peers}, false},
		{"no peers", Config{Host: h.Host()}, false},
		{"negative interval", Config{Host: h.Host(), Peers: peers, Interval: -1}, false},
		{"negative timeout", Config{Host: h.Host(), Peers: peers, Timeout: -1}, false},
		{"negative fail after", Config{Host: h.Host(), Peers: peers, FailAfter: -1}, false},
		{"negative buffer", Config{Host: h.Host(), Peers: peers, SubscriberBuffer: -1}, false},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if c.ok && err != nil {
			t.Errorf("%s: Validate: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", c.name, err)
		}
		if _, err := New(c.cfg); c.ok != (err == nil) {
			t.Errorf("%s: New error = %v", c.name, err)
		}
	}
	if _, err := NewProber(ProberConfig{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewProber without host: %v", err)
	}
	d := Config{}.withDefaults()
	if d.Interval != time.Second || d.Timeout != time.Second || d.FailAfter != 1 || d.SubscriberBuffer != 16 || d.Clock == nil || d.Logger == nil {
		t.Errorf("defaults: %+v", d)
	}
}

func TestMonitorFailAfterAndLastSeen(t *testing.T) {
	self, a, b := randomID(t), randomID(t), randomID(t)
	var ticks atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Second) }
	f := newFakeProber(false)
	team := &teamSet{}
	team.set(b, a, self, a) // self and duplicates are ignored
	m := fakeMonitor(t, Config{FailAfter: 3, Clock: clock}, self, f, team)
	ch, unsub := m.Subscribe()
	defer unsub()

	for _, h := range m.Health() {
		t.Errorf("health before any round: %+v", h)
	}
	step(t, m)
	hs := m.Health()
	if len(hs) != 2 || !slices.IsSortedFunc(hs, func(x, y PeerHealth) int {
		return cmp.Compare(x.ID, y.ID)
	}) {
		t.Fatalf("Health = %+v, want a and b sorted", hs)
	}
	for _, h := range hs {
		if !h.Healthy || h.LastSeen.IsZero() || h.RTT != time.Millisecond || h.Failures != 0 {
			t.Errorf("after a good round: %+v", h)
		}
	}
	seen := healthOf(t, m, a).LastSeen
	step(t, m)
	if got := healthOf(t, m, a).LastSeen; !got.After(seen) {
		t.Errorf("LastSeen did not advance: %v then %v", seen, got)
	}
	seen = healthOf(t, m, a).LastSeen

	f.setFail(a, errFake)
	for i := 1; i <= 3; i++ {
		step(t, m)
		h := healthOf(t, m, a)
		if h.Failures != i || h.Healthy != (i < 3) || !h.LastSeen.Equal(seen) {
			t.Errorf("after %d failures: %+v", i, h)
		}
	}
	if !m.Healthy(b) || m.Healthy(a) || m.Healthy(randomID(t)) {
		t.Errorf("Healthy: a=%v b=%v", m.Healthy(a), m.Healthy(b))
	}
	f.setFail(a, nil)
	step(t, m)
	if h := healthOf(t, m, a); !h.Healthy || h.Failures != 0 {
		t.Errorf("after recovery: %+v", h)
	}

	var got []Change
	for len(ch) > 0 {
		got = append(got, <-ch)
	}
	want := []Change{{a, true}, {b, true}, {a, false}, {a, true}}
	slices.SortFunc(got[:2], byChangeID)
	slices.SortFunc(want[:2], byChangeID)
	if !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
}

func TestMonitorNeverHealthyPeerProducesNoChange(t *testing.T) {
	self, a := randomID(t), randomID(t)
	f := newFakeProber(false)
	f.setFail(a, errFake)
	team := &teamSet{}
	team.set(a)
	m := fakeMonitor(t, Config{}, self, f, team)
	ch, unsub := m.Subscribe()
	defer unsub()
	step(t, m)
	step(t, m)
	if h := healthOf(t, m, a); h.Healthy || h.Failures != 2 || !h.LastSeen.IsZero() {
		t.Errorf("health = %+v", h)
	}
	if len(ch) != 0 {
		t.Errorf("got %d changes for a peer never healthy", len(ch))
	}
}

func TestMonitorDiscardsResultOfPeerThatLeft(t *testing.T) {
	self, a := randomID(t), randomID(t)
	f := newFakeProber(true)
	team := &teamSet{}
	team.set(a)
	m := fakeMonitor(t, Config{}, self, f, team)
	ch, unsub := m.Subscribe()
	defer unsub()

	m.round()
	first := <-f.calls
	m.mu.Lock()
	old := m.peers[a]
	m.mu.Unlock()

	// a leaves, then rejoins, while its first probe is still out.
	team.set()
	m.round()
	if hs := m.Health(); len(hs) != 0 {
		t.Fatalf("Health after a left = %+v", hs)
	}
	f.mu.Lock()
	forgot := slices.Clone(f.forgot)
	f.mu.Unlock()
	if !slices.Equal(forgot, []peer.ID{a}) {
		t.Errorf("Forget calls = %v, want [a]", forgot)
	}
	team.set(a)
	m.round()
	second := <-f.calls

	first.reply <- nil // success, but for the a that left
	testutil.WaitFor(t, 5*time.Second, "first probe to be recorded", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return !old.inflight
	})
	if h := healthOf(t, m, a); h.Healthy || !h.LastSeen.IsZero() {
		t.Errorf("a stale result was applied: %+v", h)
	}
	if len(ch) != 0 {
		t.Errorf("a stale result produced a Change: %v", <-ch)
	}

	// While the second probe is out, a new round does not probe a again.
	m.round()
	select {
	case c := <-f.calls:
		t.Fatalf("peer probed twice concurrently: %v", c.id)
	default:
	}
	second.reply <- nil
	testutil.WaitFor(t, 5*time.Second, "a healthy", func() bool { return m.Healthy(a) })
	if c := <-ch; c != (Change{a, true}) {
		t.Errorf("change = %v", c)
	}

	// A healthy peer leaving is reported as unhealthy.
	team.set()
	m.round()
	if c := <-ch; c != (Change{a, false}) {
		t.Errorf("change on leaving = %v", c)
	}
}

func TestMonitorSlowSubscriberDoesNotBlock(t *testing.T) {
	self, a := randomID(t), randomID(t)
	f := newFakeProber(false)
	team := &teamSet{}
	team.set(a)
	m := fakeMonitor(t, Config{SubscriberBuffer: 1}, self, f, team)
	slow, unsubSlow := m.Subscribe() // never read
	defer unsubSlow()
	fast, unsubFast := m.Subscribe()
	defer unsubFast()

	const flips = 10
	for i := range flips {
		f.setFail(a, map[bool]error{true: errFake, false: nil}[i%2 == 1])
		step(t, m)
		want := Change{a, i%2 == 0}
		if c := <-fast; c != want {
			t.Fatalf("flip %d: fast subscriber got %v, want %v", i, c, want)
		}
	}
	if len(slow) != 1 {
		t.Errorf("slow subscriber holds %d changes, want 1", len(slow))
	}
	if d := m.Dropped(); d != flips-1 {
		t.Errorf("Dropped = %d, want %d", d, flips-1)
	}
	unsubSlow()
	unsubSlow()
	if c := <-slow; c != (Change{a, true}) {
		t.Errorf("buffered change = %v", c)
	}
	if _, ok := <-slow; ok {
		t.Error("channel still open after unsubscribe")
	}
}

func TestMonitorCloseEndsSubscriptions(t *testing.T) {
	f := newFakeProber(false)
	team := &teamSet{}
	m := fakeMonitor(t, Config{Interval: 10 * time.Millisecond}, randomID(t), f, team)
	ch, unsub := m.Subscribe()
	m.Start()
	m.Start()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Error("subscription open after Close")
	}
	unsub() // after Close: harmless
	late, unsubLate := m.Subscribe()
	unsubLate()
	if _, ok := <-late; ok {
		t.Error("Subscribe after Close returned an open channel")
	}
	m.Start() // after Close: does nothing
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if !closed {
		t.Error("prober not closed")
	}
}

func byChangeID(x, y Change) int { return cmp.Compare(x.ID, y.ID) }

// TestNewResponderRefusesNilAdmit: admission fails closed.
func TestNewResponderRefusesNilAdmit(t *testing.T) {
	if _, err := NewResponder(ResponderConfig{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewResponder without Admit: %v, want ErrInvalidConfig", err)
	}
}
