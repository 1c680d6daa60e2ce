package failover

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/p2p"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// loopback is the only address tests listen on.
const loopback = "/ip4/127.0.0.1/tcp/0"

// testLogger logs at Info, or Debug when FAILOVER_DEBUG is set.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	level := slog.LevelInfo
	if os.Getenv("FAILOVER_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// newHost starts a p2p host on 127.0.0.1 with a fresh data directory and
// closes it when the test ends (closing earlier is fine).
func newHost(t *testing.T) *p2p.Host {
	t.Helper()
	return newHostIn(t, t.TempDir())
}

// newHostIn is newHost with the data directory (hence identity) in dir.
func newHostIn(t *testing.T, dir string) *p2p.Host {
	t.Helper()
	h, err := p2p.New(t.Context(), p2p.Config{DataDir: dir, Listen: []string{loopback}, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("p2p.New: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("closing host: %v", err)
		}
	})
	return h
}

// connect connects a to b (which also teaches a b's addresses).
func connect(t *testing.T, a, b *p2p.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatalf("connecting %s to %s: %v", a.ID(), b.ID(), err)
	}
}

// serve starts a Responder on h (admit nil: every peer) and unserves it
// when the test ends.
func serve(t *testing.T, h *p2p.Host, admit func(peer.ID) bool) *Responder {
	t.Helper()
	if admit == nil {
		admit = func(peer.ID) bool { return true }
	}
	r, err := NewResponder(ResponderConfig{Admit: admit, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("NewResponder: %v", err)
	}
	r.Serve(h.Host())
	t.Cleanup(r.Unserve)
	return r
}

// newProber returns a Prober on h, closed when the test ends.
func newProber(t *testing.T, h *p2p.Host, timeout time.Duration) *Prober {
	t.Helper()
	p, err := NewProber(ProberConfig{Host: h.Host(), Timeout: timeout, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("NewProber: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// startMonitor starts a Monitor on h watching peers, closed when the test
// ends. cfg's Host, Peers and Logger are filled in.
func startMonitor(t *testing.T, h *p2p.Host, cfg Config, peers ...peer.ID) *Monitor {
	t.Helper()
	cfg.Host = h.Host()
	if cfg.Peers == nil {
		cfg.Peers = func() []peer.ID { return peers }
	}
	cfg.Logger = testLogger(t)
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	m.Start()
	return m
}

// blackhole makes h accept probe streams and never answer them, like a
// member that is connected but hung. The handlers return when their stream
// is reset.
func blackhole(h *p2p.Host) {
	h.Host().SetStreamHandler(p2p.ProtoProbe, func(s network.Stream) {
		buf := make([]byte, 64)
		for {
			if _, err := s.Read(buf); err != nil {
				_ = s.Reset()
				return
			}
		}
	})
}

// waitChange receives from ch until a Change for id with the given state
// arrives, and returns when it did.
func waitChange(t *testing.T, ch <-chan Change, id peer.ID, healthy bool, timeout time.Duration) time.Time {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("subscription closed waiting for %s healthy=%v", id, healthy)
			}
			if c.ID == id && c.Healthy == healthy {
				return time.Now()
			}
		case <-timer.C:
			t.Fatalf("no Change{%s, healthy=%v} within %v", id, healthy, timeout)
		}
	}
}

// healthOf returns id's record in m.Health().
func healthOf(t *testing.T, m *Monitor, id peer.ID) PeerHealth {
	t.Helper()
	for _, h := range m.Health() {
		if h.ID == id {
			return h
		}
	}
	t.Fatalf("%s is not in Health()", id)
	return PeerHealth{}
}

// noGoroutinesIn polls until no goroutine has a frame matching any of
// funcs (substrings of fully qualified function names).
func noGoroutinesIn(t *testing.T, timeout time.Duration, funcs ...string) {
	t.Helper()
	err := testutil.Poll(t.Context(), timeout, 0, func() (bool, string) {
		last := goroutineIn(funcs)
		return last == "", last
	})
	if err != nil {
		t.Fatalf("goroutine still running after %v: %v", timeout, err)
	}
}

// goroutineIn returns the stack of a goroutine with a frame matching one of
// funcs, or "".
func goroutineIn(funcs []string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range funcs {
			if strings.Contains(g, f) {
				return g
			}
		}
	}
	return ""
}

// randomID returns a fresh, valid peer ID.
func randomID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// fakeProber stands in for a Prober in unit tests. In auto mode (the
// default) a probe answers at once with the error set by fail; in manual
// mode every probe is published on calls and waits for the test's reply.
type fakeProber struct {
	manual bool
	calls  chan *probeCall

	mu     sync.Mutex
	fail   map[peer.ID]error
	forgot []peer.ID
	closed bool
}

// probeCall is one manual-mode probe awaiting its reply.
type probeCall struct {
	id    peer.ID
	reply chan error
}

func newFakeProber(manual bool) *fakeProber {
	return &fakeProber{manual: manual, calls: make(chan *probeCall, 100), fail: make(map[peer.ID]error)}
}

func (f *fakeProber) setFail(id peer.ID, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[id] = err
}

func (f *fakeProber) Probe(ctx context.Context, id peer.ID) (time.Duration, error) {
	var err error
	if f.manual {
		c := &probeCall{id: id, reply: make(chan error, 1)}
		f.calls <- c
		select {
		case err = <-c.reply:
		case <-ctx.Done():
			err = ctx.Err()
		}
	} else {
		f.mu.Lock()
		err = f.fail[id]
		f.mu.Unlock()
	}
	if err != nil {
		return 0, err
	}
	return time.Millisecond, nil
}

func (f *fakeProber) Forget(id peer.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgot = append(f.forgot, id)
}

func (f *fakeProber) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// fakeMonitor returns an unstarted Monitor around f whose team is
// whatever *team holds (guarded by its own mutex).
func fakeMonitor(t *testing.T, cfg Config, self peer.ID, f *fakeProber, team *teamSet) *Monitor {
	t.Helper()
	cfg.Peers = team.get
	cfg.Logger = testLogger(t)
	if err := cfg.validateTuning(); err != nil {
		t.Fatal(err)
	}
	m := newMonitor(cfg.withDefaults(), self, f)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// teamSet is a mutable Config.Peers.
type teamSet struct {
	mu  sync.Mutex
	ids []peer.ID
}

func (s *teamSet) get() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]peer.ID(nil), s.ids...)
}

func (s *teamSet) set(ids ...peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = ids
}

// step runs one round of m synchronously (with an auto-mode fake prober):
// it returns once every probe the round started has been recorded.
func step(t *testing.T, m *Monitor) {
	t.Helper()
	m.round()
	testutil.WaitFor(t, 5*time.Second, "round's probes to be recorded", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, st := range m.peers {
			if st.inflight {
				return false
			}
		}
		return true
	})
}
