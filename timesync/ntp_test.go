package timesync

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// tolerance is how close a loopback measurement must come to the truth.
const tolerance = 2 * time.Millisecond

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// bestQuery queries addr n times and returns the sample with the lowest
// round trip, as a real client's clock filter would: a single loopback
// exchange can be delayed by the scheduler on a loaded machine.
func bestQuery(t *testing.T, addr string, opts QueryOptions, n int) Sample {
	t.Helper()
	var best Sample
	for i := range n {
		s, err := Query(t.Context(), addr, opts)
		if err != nil {
			t.Fatalf("Query(%s): %v", addr, err)
		}
		if i == 0 || s.RTT < best.RTT {
			best = s
		}
	}
	return best
}

func TestOffset4(t *testing.T) {
	t1 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const off, leg, proc = 7 * time.Second, 3 * time.Millisecond, time.Millisecond
	t2 := t1.Add(leg).Add(off) // server clock = client clock + off
	t3 := t2.Add(proc)
	t4 := t3.Add(-off).Add(leg)
	gotOff, gotRTT := Offset4(t1, t2, t3, t4)
	if gotOff != off || gotRTT != 2*leg {
		t.Fatalf("Offset4 = %v, %v; want %v, %v", gotOff, gotRTT, off, 2*leg)
	}

	// Asymmetric path: the error is half the asymmetry, within rtt/2.
	t4 = t3.Add(-off).Add(leg + 2*time.Millisecond)
	gotOff, gotRTT = Offset4(t1, t2, t3, t4)
	if want := off - time.Millisecond; gotOff != want || absDur(gotOff-off) > gotRTT/2 {
		t.Fatalf("asymmetric Offset4 = %v, %v; want offset %v", gotOff, gotRTT, want)
	}

	// A server that claims more processing time than the round trip.
	if _, rtt := Offset4(t1, t1, t1.Add(time.Second), t1); rtt != 0 {
		t.Fatalf("negative rtt not clamped: %v", rtt)
	}
}

func TestSkewed(t *testing.T) {
	for _, s := range []Skewed{{Base: System{}, Skew: 5 * time.Second}, {Skew: -10 * time.Minute}} {
		if d := s.Now().Sub(time.Now()) - s.Skew; absDur(d) > tolerance {
			t.Errorf("Skewed%+v.Now off by %v", s, d)
		}
		if s.Offset() != s.Skew || s.Source() != "system" {
			t.Errorf("Skewed%+v: Offset %v Source %q", s, s.Offset(), s.Source())
		}
	}
	nested := Skewed{Base: Skewed{Skew: time.Second}, Skew: 2 * time.Second}
	if nested.Offset() != 3*time.Second {
		t.Errorf("nested Offset = %v", nested.Offset())
	}
}

func TestQueryGoodServer(t *testing.T) {
	cases := []struct {
		name         string
		serverOffset time.Duration // server clock = real + this
		baseSkew     time.Duration // local clock = real + this
	}{
		{"server+5s", 5 * time.Second, 0},
		{"server-10m", -10 * time.Minute, 0},
		{"base+5s", 0, 5 * time.Second},
		{"base-10m server+5s", 5 * time.Second, -10 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeNTP(t, goodServer(tc.serverOffset))
			opts := QueryOptions{Timeout: time.Second, Clock: Skewed{Base: System{}, Skew: tc.baseSkew}}
			s := bestQuery(t, srv.Addr(), opts, 3)
			want := tc.serverOffset - tc.baseSkew
			t.Logf("offset %v (want %v, error %v), rtt %v", s.Offset, want, s.Offset-want, s.RTT)
			if absDur(s.Offset-want) > tolerance {
				t.Fatalf("offset %v, want %v ± %v", s.Offset, want, tolerance)
			}
			if s.Server != srv.Addr() || s.Stratum != 2 {
				t.Errorf("sample %+v", s)
			}
			// RootDistance = 1ms/2 + 1ms, to the 16.16 format's 15 µs.
			if absDur(s.RootDistance-1500*time.Microsecond) > 50*time.Microsecond {
				t.Errorf("RootDistance %v, want ~1.5ms", s.RootDistance)
			}
			if s.RTT <= 0 || s.RTT > 100*time.Millisecond || s.ErrorBound() != s.RTT/2+s.RootDistance {
				t.Errorf("RTT %v, ErrorBound %v", s.RTT, s.ErrorBound())
			}
			if d := absDur(s.Time.Sub(opts.Clock.Now())); d > time.Second {
				t.Errorf("Time %v is not on the local clock (off by %v)", s.Time, d)
			}
		})
	}
}

func TestQueryRejects(t *testing.T) {
	good := goodServer(0)
	with := func(f func(*fakeBehaviour)) fakeBehaviour { b := good; f(&b); return b }
	cases := []struct {
		name string
		b    fakeBehaviour
		kiss string // expected kiss code; "" means ErrBadResponse
	}{
		{"kiss RATE", with(func(b *fakeBehaviour) { b.Stratum, b.RefID = 0, "RATE" }), "RATE"},
		{"kiss DENY", with(func(b *fakeBehaviour) { b.Stratum, b.RefID = 0, "DENY" }), "DENY"},
		{"kiss RATE with leap 3", with(func(b *fakeBehaviour) { b.Stratum, b.RefID, b.Leap = 0, "RATE", 3 }), "RATE"},
		{"stratum 0 without code", with(func(b *fakeBehaviour) { b.Stratum, b.RefID, b.Leap = 0, "\x00\x00\x00\x00", 3 }), ""},
		{"unsynchronised leap", with(func(b *fakeBehaviour) { b.Leap = 3 }), ""},
		{"stratum 16", with(func(b *fakeBehaviour) { b.Stratum = 16 }), ""},
		{"huge root dispersion", with(func(b *fakeBehaviour) { b.RootDisp = 20 * time.Second }), ""},
		{"root distance over max", with(func(b *fakeBehaviour) { b.RootDisp = 1500 * time.Millisecond }), ""},
		{"root delay over max", with(func(b *fakeBehaviour) { b.RootDelay = 3 * time.Second }), ""},
		{"garbage text", with(func(b *fakeBehaviour) { b.Garbage = []byte("this is not an NTP packet at all, just noise....") }), ""},
		{"short packet", with(func(b *fakeBehaviour) { b.Garbage = []byte{0x24, 2, 3} }), ""},
		{"client-mode echo", with(func(b *fakeBehaviour) { b.Garbage = make([]byte, 48); b.Garbage[0] = 0x23 }), ""},
		{"zero transmit time", with(func(b *fakeBehaviour) { b.Garbage = make([]byte, 48); b.Garbage[0] = 0x24 }), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeNTP(t, tc.b)
			_, err := Query(t.Context(), srv.Addr(), QueryOptions{Timeout: time.Second})
			t.Logf("err: %v", err)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.kiss != "" {
				var k *KissError
				if !errors.Is(err, ErrKissOfDeath) || !errors.As(err, &k) || k.Code != tc.kiss || k.Server != srv.Addr() {
					t.Fatalf("want KissError %s from %s, got %v", tc.kiss, srv.Addr(), err)
				}
				if errors.Is(err, ErrBadResponse) {
					t.Fatalf("kiss also reported as bad response: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadResponse) || errors.Is(err, ErrKissOfDeath) {
				t.Fatalf("want ErrBadResponse, got %v", err)
			}
		})
	}
}

func TestQueryNoAnswerTimesOut(t *testing.T) {
	srv := newFakeNTP(t, fakeBehaviour{Drop: true})
	start := time.Now()
	_, err := Query(t.Context(), srv.Addr(), QueryOptions{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrBadResponse) || errors.Is(err, ErrKissOfDeath) {
		t.Fatalf("want a timeout, got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("timeout took %v", el)
	}
	if srv.Queries() != 1 {
		t.Fatalf("server saw %d queries", srv.Queries())
	}
}

func TestQueryHonoursContext(t *testing.T) {
	srv := newFakeNTP(t, fakeBehaviour{Drop: true})
	opts := QueryOptions{Timeout: 30 * time.Second}

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Query(ctx, srv.Addr(), opts)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("returned after %v", el)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		stop := time.AfterFunc(100*time.Millisecond, cancel)
		defer stop.Stop()
		start := time.Now()
		_, err := Query(ctx, srv.Addr(), opts)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want Canceled, got %v", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("returned after %v", el)
		}
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		before := srv.Queries()
		if _, err := Query(ctx, srv.Addr(), opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("want Canceled, got %v", err)
		}
		if srv.Queries() != before {
			t.Fatal("sent a query with a done context")
		}
	})
}
