package failover

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"concord/internal/testutil"

	"github.com/libp2p/go-libp2p/core/peer"
)

// fakeLeader is a settable LeaderSource.
type fakeLeader struct {
	mu sync.Mutex
	id peer.ID
}

func (f *fakeLeader) Leader() peer.ID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id
}

func (f *fakeLeader) set(id peer.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.id = id
}

func TestLeaderWatch(t *testing.T) {
	self, a, b := randomID(t), randomID(t), randomID(t)
	f := newFakeProber(false)
	team := &teamSet{}
	team.set(a, b)
	m := fakeMonitor(t, Config{FailAfter: 2}, self, f, team)
	src := &fakeLeader{}
	w, err := NewLeaderWatch(src, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLeaderWatch(nil, m); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewLeaderWatch(nil): %v", err)
	}

	check := func(what string, wantLeader peer.ID, wantHealthy, wantSuspect bool) {
		t.Helper()
		l, h := w.Current()
		if l != wantLeader || h != wantHealthy || w.Suspect() != wantSuspect {
			t.Errorf("%s: Current = (%s, %v), Suspect = %v; want (%s, %v), %v",
				what, l, h, w.Suspect(), wantLeader, wantHealthy, wantSuspect)
		}
	}
	check("no leader", "", false, false)
	src.set(self)
	check("self leader", self, true, false)
	src.set(a)
	check("leader not yet probed", a, false, false)

	step(t, m)
	check("healthy leader", a, true, false)

	guarded, release := w.Guard(t.Context(), a)
	defer release()
	selfGuard, releaseSelf := w.Guard(t.Context(), self)
	defer releaseSelf()
	released, releaseNow := w.Guard(t.Context(), a)
	releaseNow()

	f.setFail(a, errFake)
	step(t, m)
	check("one failure of two", a, true, false)
	if guarded.Err() != nil {
		t.Fatal("guard fired before the leader was down")
	}
	step(t, m)
	check("leader down", a, false, true)
	select {
	case <-guarded.Done():
	default:
		t.Fatal("guard did not fire when the leader went down")
	}
	if cause := context.Cause(guarded); !errors.Is(cause, ErrLeaderUnreachable) {
		t.Errorf("guard cause = %v", cause)
	}
	if !errors.Is(released.Err(), context.Canceled) || errors.Is(context.Cause(released), ErrLeaderUnreachable) {
		t.Errorf("released guard: err %v, cause %v", released.Err(), context.Cause(released))
	}
	if selfGuard.Err() != nil {
		t.Error("guard on self fired")
	}

	// Guarding a leader already down fires at once.
	late, releaseLate := w.Guard(t.Context(), a)
	defer releaseLate()
	if !errors.Is(context.Cause(late), ErrLeaderUnreachable) {
		t.Errorf("guard on a down leader: cause %v", context.Cause(late))
	}
	src.set(b)
	check("new healthy leader", b, true, false)

	// Released guards leave no watcher behind.
	releaseLate()
	release()
	releaseSelf()
	testutil.WaitFor(t, 5*time.Second, "watchers released", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.watchers) == 0
	})
}

func TestLeaderGuardOverNetwork(t *testing.T) {
	a, b := newHost(t), newHost(t)
	serve(t, b, nil)
	connect(t, a, b)
	m := startMonitor(t, a, Config{Interval: testInterval, Timeout: testTimeout}, b.ID())
	src := &fakeLeader{id: b.ID()}
	w, err := NewLeaderWatch(src, m)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "leader reachable", func() bool { _, ok := w.Current(); return ok })

	// A sender waits on the leader with a long timeout of its own.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	gctx, release := w.Guard(ctx, b.ID())
	defer release()

	died := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("guard did not fire after the leader died")
	}
	took := time.Since(died)
	t.Logf("sender released %v after the leader died (Interval %v, Timeout %v)", took, testInterval, testTimeout)
	if took > detectBound {
		t.Errorf("took %v, want under %v", took, detectBound)
	}
	if !errors.Is(context.Cause(gctx), ErrLeaderUnreachable) {
		t.Errorf("cause = %v", context.Cause(gctx))
	}
	if !w.Suspect() {
		t.Error("dead leader not suspect")
	}
}
