package failover

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/p2p"

	"github.com/libp2p/go-libp2p/core/peer"
)

// probeStreams counts a's open streams to b speaking p2p.ProtoProbe.
func probeStreams(a, b *p2p.Host) int {
	n := 0
	for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
		for _, s := range c.GetStreams() {
			if s.Protocol() == p2p.ProtoProbe {
				n++
			}
		}
	}
	return n
}

func TestProbeReusesOneStream(t *testing.T) {
	a, b := newHost(t), newHost(t)
	serve(t, b, nil)
	connect(t, a, b)
	p := newProber(t, a, 2*time.Second)

	var total time.Duration
	const n = 20
	for i := range n {
		rtt, err := p.Probe(t.Context(), b.ID())
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if rtt <= 0 {
			t.Fatalf("probe %d: RTT %v", i, rtt)
		}
		total += rtt
	}
	t.Logf("mean probe RTT over loopback: %v", total/n)
	if got := probeStreams(a, b); got != 1 {
		t.Errorf("%d probe streams open after %d probes, want 1", got, n)
	}
	p.Forget(b.ID())
	testutil.WaitFor(t, 5*time.Second, "probe stream reset by Forget", func() bool { return probeStreams(a, b) == 0 })
	if _, err := p.Probe(t.Context(), b.ID()); err != nil {
		t.Fatalf("probe after Forget: %v", err)
	}
	if _, err := p.Probe(t.Context(), a.ID()); err == nil {
		t.Error("probing self succeeded")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	if _, err := p.Probe(t.Context(), b.ID()); !errors.Is(err, ErrClosed) {
		t.Errorf("probe after Close: %v, want ErrClosed", err)
	}
}

func TestProbeDialsWhenNotConnected(t *testing.T) {
	a, b := newHost(t), newHost(t)
	serve(t, b, nil)
	a.Host().Peerstore().AddAddrs(b.ID(), b.Host().Addrs(), time.Hour)
	p := newProber(t, a, 5*time.Second)
	if _, err := p.Probe(t.Context(), b.ID()); err != nil {
		t.Fatalf("probe: %v", err)
	}
}

func TestProbeFailsWithoutResponder(t *testing.T) {
	a, b := newHost(t), newHost(t)
	connect(t, a, b)
	p := newProber(t, a, 2*time.Second)
	if _, err := p.Probe(t.Context(), b.ID()); err == nil {
		t.Fatal("probe to a host without a responder succeeded")
	}
}

func TestProbeAdmit(t *testing.T) {
	a, b, c := newHost(t), newHost(t), newHost(t)
	var admitA atomic.Bool
	admitA.Store(true)
	serve(t, c, func(id peer.ID) bool { return id != a.ID() || admitA.Load() })
	connect(t, a, c)
	connect(t, b, c)
	pa, pb := newProber(t, a, 2*time.Second), newProber(t, b, 2*time.Second)

	if _, err := pa.Probe(t.Context(), c.ID()); err != nil {
		t.Fatalf("admitted probe: %v", err)
	}
	admitA.Store(false) // refused on the stream a already has, and on new ones
	if _, err := pa.Probe(t.Context(), c.ID()); err == nil {
		t.Fatal("probe from a refused peer succeeded")
	}
	if _, err := pa.Probe(t.Context(), c.ID()); err == nil {
		t.Fatal("second probe from a refused peer succeeded")
	}
	if _, err := pb.Probe(t.Context(), c.ID()); err != nil {
		t.Fatalf("probe from another peer: %v", err)
	}
	admitA.Store(true)
	if _, err := pa.Probe(t.Context(), c.ID()); err != nil {
		t.Fatalf("probe after re-admission: %v", err)
	}
}

func TestProbeSurvivesResponderRestart(t *testing.T) {
	a, b := newHost(t), newHost(t)
	r := serve(t, b, nil)
	connect(t, a, b)
	p := newProber(t, a, 2*time.Second)
	if _, err := p.Probe(t.Context(), b.ID()); err != nil {
		t.Fatal(err)
	}
	// The restart resets the cached stream; the next probe must not fail
	// because of it.
	r.Unserve()
	r.Serve(b.Host())
	if _, err := p.Probe(t.Context(), b.ID()); err != nil {
		t.Fatalf("probe after responder restart: %v", err)
	}

	r.Unserve()
	if _, err := p.Probe(t.Context(), b.ID()); err == nil {
		t.Fatal("probe succeeded while not served")
	}
	r.Serve(b.Host())
	if _, err := p.Probe(t.Context(), b.ID()); err != nil {
		t.Fatalf("probe after Serve: %v", err)
	}
	r.Unserve()
	r.Unserve()
	noGoroutinesIn(t, 5*time.Second, "failover.(*Responder).handle")
}

func TestProbeTimesOutOnHungPeer(t *testing.T) {
	a, b := newHost(t), newHost(t)
	blackhole(b)
	connect(t, a, b)
	const timeout = 200 * time.Millisecond
	p := newProber(t, a, timeout)

	start := time.Now()
	_, err := p.Probe(t.Context(), b.ID())
	took := time.Since(start)
	t.Logf("probe to a hung peer failed after %v: %v", took, err)
	if err == nil {
		t.Fatal("probe to a hung peer succeeded")
	}
	if took < timeout/2 || took > timeout+time.Second {
		t.Errorf("probe took %v, want about %v", took, timeout)
	}

	// A caller's cancellation ends the probe before the timeout.
	p2, _ := NewProber(ProberConfig{Host: a.Host(), Timeout: time.Minute})
	defer p2.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := p2.Probe(ctx, b.ID())
		done <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "probe stream to be open", func() bool { return probeStreams(a, b) > 0 })
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("cancelled probe succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled probe did not return")
	}
}
