package timesync

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"concord/internal/testutil"
)

// testNTPConfig is a fast configuration against the given servers.
func testNTPConfig(t *testing.T, servers ...string) NTPConfig {
	return NTPConfig{
		Servers:   servers,
		SampleGap: time.Millisecond,
		Timeout:   200 * time.Millisecond,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func newTestNTP(t *testing.T, cfg NTPConfig) *NTPClock {
	t.Helper()
	c, err := NewNTP(cfg)
	if err != nil {
		t.Fatalf("NewNTP: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestNTPConfigValidate(t *testing.T) {
	ok := []NTPConfig{{}, {Servers: []string{"a", "b:123"}, Samples: 1, Interval: time.Minute, MaxBackoff: time.Minute}}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	bad := map[string]NTPConfig{
		"empty server":     {Servers: []string{"a", " "}},
		"negative samples": {Samples: -1},
		"negative gap":     {SampleGap: -1},
		"negative timeout": {Timeout: -time.Second},
		"backoff<interval": {Interval: time.Hour, MaxBackoff: time.Minute},
		"backoff<default":  {MaxBackoff: time.Minute},
	}
	for name, c := range bad {
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := NewNTP(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewNTP = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestNTPConfigDefaults(t *testing.T) {
	c := NTPConfig{}.withDefaults()
	if !slices.Equal(c.Servers, []string{"pool.ntp.org", "time.cloudflare.com", "time.google.com"}) ||
		c.Samples != 4 || c.Interval != 5*time.Minute || c.Timeout != 2*time.Second ||
		c.MaxBackoff < c.Interval || c.Logger == nil || c.Base != (System{}) {
		t.Fatalf("defaults: %+v", c)
	}
	// A long Interval lifts the default MaxBackoff with it.
	if c := (NTPConfig{Interval: 3 * time.Hour}).withDefaults(); c.MaxBackoff != 3*time.Hour {
		t.Fatalf("MaxBackoff %v", c.MaxBackoff)
	}
}

func TestNTPClockBeforeSync(t *testing.T) {
	c := newTestNTP(t, NTPConfig{Base: Skewed{Skew: time.Hour}})
	if c.Source() != "system" || c.Offset() != 0 {
		t.Fatalf("Source %q Offset %v", c.Source(), c.Offset())
	}
	if d := c.Now().Sub(time.Now()) - time.Hour; absDur(d) > tolerance {
		t.Fatalf("unsynced Now is not Base: off by %v", d)
	}
	if st := c.Status(); st.Source != "system" || !st.LastSync.IsZero() || st.Stale {
		t.Fatalf("Status %+v", st)
	}
}

func TestNTPClockSync(t *testing.T) {
	cases := []struct {
		name         string
		serverOffset time.Duration
		baseSkew     time.Duration
	}{
		{"server+5s", 5 * time.Second, 0},
		{"server-10m", -10 * time.Minute, 0},
		{"base+5s", 0, 5 * time.Second},
		{"base-10m", 0, -10 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeNTP(t, goodServer(tc.serverOffset))
			cfg := testNTPConfig(t, srv.Addr())
			cfg.Base = Skewed{Skew: tc.baseSkew}
			c := newTestNTP(t, cfg)
			if err := c.Sync(t.Context()); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			want := tc.serverOffset - tc.baseSkew
			st := c.Status()
			t.Logf("status %+v (offset error %v)", st, st.Offset-want)
			if absDur(c.Offset()-want) > tolerance {
				t.Fatalf("offset %v, want %v ± %v", c.Offset(), want, tolerance)
			}
			// Now is the server's time: real time + serverOffset.
			if d := c.Now().Sub(time.Now()) - tc.serverOffset; absDur(d) > tolerance {
				t.Fatalf("Now off the server's clock by %v", d)
			}
			if c.Source() != "ntp" || st.Source != "ntp" || st.Server != srv.Addr() || st.Stale || st.Err != "" {
				t.Fatalf("status %+v", st)
			}
			if st.ErrorBound < st.RTT/2 || st.ErrorBound > 100*time.Millisecond {
				t.Fatalf("error bound %v (rtt %v)", st.ErrorBound, st.RTT)
			}
			if d := st.LastSync.Sub(time.Now()) - tc.serverOffset; absDur(d) > time.Second {
				t.Fatalf("LastSync %v not on the corrected clock", st.LastSync)
			}
			if n := srv.Queries(); n != DefaultSamples {
				t.Fatalf("server saw %d queries, want %d", n, DefaultSamples)
			}
		})
	}
}

func TestNTPClockFallsBack(t *testing.T) {
	const x = 3 * time.Second
	cases := map[string]fakeBehaviour{
		"dead":        {Drop: true},
		"rate":        {Stratum: 0, RefID: "RATE"},
		"unsynced":    {Stratum: 2, Leap: 3},
		"stratum 16":  {Stratum: 16},
		"garbage":     {Garbage: []byte("garbage")},
		"far":         {Stratum: 2, RootDisp: 5 * time.Second},
		"kiss, leap3": {Stratum: 0, RefID: "DENY", Leap: 3},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			first := newFakeNTP(t, b)
			second := newFakeNTP(t, goodServer(x))
			c := newTestNTP(t, testNTPConfig(t, first.Addr(), second.Addr()))
			rate, err := c.sync(t.Context())
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if want := b.RefID == "RATE"; rate != want {
				t.Fatalf("rate = %v, want %v", rate, want)
			}
			st := c.Status()
			if st.Server != second.Addr() || absDur(st.Offset-x) > tolerance {
				t.Fatalf("status %+v, want offset %v from %s", st, x, second.Addr())
			}
			// A failing server is abandoned after its first failure.
			if n := first.Queries(); n != 1 {
				t.Fatalf("first server saw %d queries, want 1", n)
			}
		})
	}
}

func TestNTPClockAllDeadKeepsOffset(t *testing.T) {
	const x = -4 * time.Second
	a := newFakeNTP(t, goodServer(x))
	b := newFakeNTP(t, fakeBehaviour{Drop: true})
	c := newTestNTP(t, testNTPConfig(t, a.Addr(), b.Addr()))
	if err := c.Sync(t.Context()); err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	before := c.Status()

	a.Set(fakeBehaviour{Drop: true})
	err := c.Sync(t.Context())
	if !errors.Is(err, ErrNoServer) || errors.Is(err, ErrKissOfDeath) {
		t.Fatalf("want ErrNoServer, got %v", err)
	}
	st := c.Status()
	t.Logf("status after failure: %+v", st)
	if st.Offset != before.Offset || c.Offset() != before.Offset || c.Source() != "ntp" ||
		st.Server != a.Addr() || !st.LastSync.Equal(before.LastSync) {
		t.Fatalf("previous offset not kept: before %+v after %+v", before, st)
	}
	if !st.Stale || st.Err == "" || !strings.Contains(st.Err, a.Addr()) {
		t.Fatalf("failure not reported: %+v", st)
	}
	if d := c.Now().Sub(time.Now()) - x; absDur(d) > tolerance {
		t.Fatalf("Now drifted from the kept offset by %v", d)
	}

	// A RATE among the failures shows through the ErrNoServer.
	a.Set(fakeBehaviour{Stratum: 0, RefID: "RATE"})
	rate, err := c.sync(t.Context())
	var k *KissError
	if !rate || !errors.Is(err, ErrNoServer) || !errors.As(err, &k) || k.Code != "RATE" {
		t.Fatalf("rate %v err %v", rate, err)
	}

	// Recovery clears the staleness.
	a.Set(goodServer(x))
	if err := c.Sync(t.Context()); err != nil {
		t.Fatalf("Sync after recovery: %v", err)
	}
	if st := c.Status(); st.Stale || st.Err != "" {
		t.Fatalf("still stale: %+v", st)
	}
}

func TestNTPClockNeverSyncedFailure(t *testing.T) {
	b := newFakeNTP(t, fakeBehaviour{Drop: true})
	c := newTestNTP(t, testNTPConfig(t, b.Addr()))
	if err := c.Sync(t.Context()); !errors.Is(err, ErrNoServer) {
		t.Fatalf("want ErrNoServer, got %v", err)
	}
	if st := c.Status(); st.Source != "system" || st.Offset != 0 || !st.Stale || st.Err == "" {
		t.Fatalf("status %+v", st)
	}
}

func TestNTPClockSkipsDenyingServer(t *testing.T) {
	deny := newFakeNTP(t, fakeBehaviour{Stratum: 0, RefID: "DENY"})
	good := newFakeNTP(t, goodServer(0))
	c := newTestNTP(t, testNTPConfig(t, deny.Addr(), good.Addr()))
	for range 2 {
		if err := c.Sync(t.Context()); err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
	if n := deny.Queries(); n != 1 {
		t.Fatalf("denying server queried %d times, want 1", n)
	}
}

func TestNTPClockToleratesLostLaterSample(t *testing.T) {
	srv := newFakeNTP(t, goodServer(time.Second))
	cfg := testNTPConfig(t, srv.Addr())
	cfg.Samples = 3
	// Drop once the first sample is in: the series ends and the first is used.
	cfg.Base = hookClock{after: func() {
		if srv.Queries() >= 1 {
			srv.Set(fakeBehaviour{Drop: true})
		}
	}}
	c := newTestNTP(t, cfg)
	if err := c.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if absDur(c.Offset()-time.Second) > tolerance || srv.Queries() != 2 {
		t.Fatalf("offset %v after %d queries", c.Offset(), srv.Queries())
	}
}

// hookClock is the system clock calling after on each reading.
type hookClock struct{ after func() }

func (h hookClock) Now() time.Time        { n := time.Now(); h.after(); return n }
func (h hookClock) Source() string        { return "system" }
func (h hookClock) Offset() time.Duration { return 0 }

func TestCombine(t *testing.T) {
	ms := time.Millisecond
	s := func(off, rtt time.Duration) Sample {
		return Sample{Offset: off, RTT: rtt, RootDistance: ms}
	}
	cases := []struct {
		name  string
		in    []Sample
		off   time.Duration
		rtt   time.Duration
		bound time.Duration
		kept  int
	}{
		{"one", []Sample{s(5*ms, 2*ms)}, 5 * ms, 2 * ms, 2 * ms, 1},
		{"queued outliers dropped", []Sample{s(50*ms, 90*ms), s(10*ms, 2*ms), s(-40*ms, 80*ms), s(12*ms, 4*ms)},
			11 * ms, 2 * ms, 3 * ms, 2},
		{"odd", []Sample{s(1*ms, 1*ms), s(3*ms, 3*ms), s(2*ms, 2*ms), s(100*ms, 50*ms), s(-100*ms, 60*ms)},
			2 * ms, 1 * ms, 2*ms + 500*time.Microsecond, 3},
	}
	for _, tc := range cases {
		e := combine(tc.in)
		if e.offset != tc.off || e.rtt != tc.rtt || e.bound != tc.bound || e.kept != tc.kept {
			t.Errorf("%s: combine = %+v, want offset %v rtt %v bound %v kept %d",
				tc.name, e, tc.off, tc.rtt, tc.bound, tc.kept)
		}
	}
}

func TestNextInterval(t *testing.T) {
	cfg := NTPConfig{Interval: 5 * time.Minute, RetryInterval: 30 * time.Second, MaxBackoff: time.Hour}
	steps := []struct {
		out  syncOutcome
		want time.Duration
	}{
		{syncFailed, 30 * time.Second}, // never synced: retry soon
		{syncFailed, 30 * time.Second}, //
		{syncRate, 10 * time.Minute},   // RATE doubles from at least Interval
		{syncRate, 20 * time.Minute},   // and doubles again
		{syncFailed, 20 * time.Minute}, // a failure keeps the backoff
		{syncRate, 40 * time.Minute},   //
		{syncRate, time.Hour},          // capped at MaxBackoff
		{syncRate, time.Hour},          //
		{syncOK, 5 * time.Minute},      // success resets
		{syncRate, 10 * time.Minute},   //
		{syncOK, 5 * time.Minute},      //
		{syncFailed, 30 * time.Second}, //
	}
	prev := cfg.Interval
	for i, s := range steps {
		got := nextInterval(cfg, prev, s.out)
		if got != s.want {
			t.Fatalf("step %d (outcome %d after %v): got %v, want %v", i, s.out, prev, got, s.want)
		}
		prev = got
	}
	// RetryInterval never exceeds Interval.
	if got := nextInterval(NTPConfig{Interval: time.Second, RetryInterval: time.Minute, MaxBackoff: time.Hour}, time.Second, syncFailed); got != time.Second {
		t.Fatalf("retry %v", got)
	}
}

func TestJitter(t *testing.T) {
	d := 5 * time.Minute
	for r, want := range map[float64]time.Duration{0: 270 * time.Second, 0.5: d, 0.75: 315 * time.Second} {
		if got := jitter(d, jitterFraction, r); got != want {
			t.Errorf("jitter(%v, r=%v) = %v, want %v", d, r, got, want)
		}
	}
	if got := jitter(d, jitterFraction, 0.9999999); got > 330*time.Second || got < 329*time.Second {
		t.Errorf("jitter top = %v", got)
	}
}

func TestNTPClockStartClose(t *testing.T) {
	srv := newFakeNTP(t, goodServer(2*time.Second))
	c := newTestNTP(t, testNTPConfig(t, srv.Addr()))
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "first sync", func() bool { return c.Source() == "ntp" })
	if absDur(c.Offset()-2*time.Second) > tolerance {
		t.Fatalf("offset %v", c.Offset())
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	if running {
		t.Fatal("loop still running after Close")
	}
	// Closed: the offset is kept, but no more syncing.
	if c.Source() != "ntp" {
		t.Fatal("offset lost on Close")
	}
	if err := c.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
	if err := c.Sync(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v", err)
	}
}

func TestNTPClockCloseInterruptsSync(t *testing.T) {
	srv := newFakeNTP(t, fakeBehaviour{Drop: true})
	cfg := testNTPConfig(t, srv.Addr())
	cfg.Timeout = time.Minute
	c := newTestNTP(t, cfg)
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "a query in flight", func() bool { return srv.Queries() > 0 })
	start := time.Now()
	_ = c.Close()
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Close took %v", el)
	}
}

func TestNTPClockLoopStopsWithContext(t *testing.T) {
	srv := newFakeNTP(t, goodServer(0))
	c := newTestNTP(t, testNTPConfig(t, srv.Addr()))
	ctx, cancel := context.WithCancel(t.Context())
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "first sync", func() bool { return c.Source() == "ntp" })
	cancel()
	testutil.WaitFor(t, 10*time.Second, "loop exit", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.running
	})
	// It can be started again.
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("restart: %v", err)
	}
}
