package chaos

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// nemesis injects its faults into a running team under load and undoes
// the ones it means to undo; the runner heals whatever is left. Every
// choice comes from rng, so a seed replays the same schedule (the leader
// it aims at is whichever member leads at that moment).
type nemesis func(tm *team, rng *rand.Rand) error

// scenarios are the suite's nemeses, by name (the order of `make chaos`).
var scenarios = []struct {
	name  string
	run   nemesis
	setup setup                     // how its team differs from the default one
	image func(t *testing.T) string // the members' image (nil: this tree's)
}{
	{name: "kill-restart", run: nemKill},
	{name: "pause", run: nemPause},
	{name: "partition-one", run: nemPartitionOne},
	{name: "partition-leader-minority", run: nemPartitionLeaderMinority},
	{name: "partition-majority", run: nemPartitionMajority},
	{name: "partition-bridge", run: nemBridge},
	{name: "kill-all", run: nemKillAll},
	{name: "leader-kill-during-heal", run: nemLeaderKillDuringHeal},
	{name: "clock-skew", run: nemSkew},
	{name: "disk-full", run: nemDiskFull, setup: setup{smallDisk: 256 << 20}},
	{name: "wedged-rotation", run: nemWedgedRotation, setup: wedgeSetup},
	{name: "bit-flip", run: nemBitFlip},
	{name: "rolling-upgrade", run: nemRollingUpgrade, image: previous},
}

// setup is how a scenario's team differs from the default one.
type setup struct {
	smallDisk int64    // each member's data dir on a filesystem of this size (0: the host's disk)
	env       []string // the member containers' extra environment (KEY=VALUE)
}

// between returns a duration in [lo, hi) drawn from rng.
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// hold keeps a fault in force for d (this is the fault's length, not a
// wait for something to happen).
func (tm *team) hold(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tm.ctx.Done():
	case <-t.C:
	}
}

// target is the leader with probability 1/2, else any member.
func (tm *team) target(rng *rand.Rand) (*member, bool) {
	if rng.IntN(2) == 0 {
		if l := tm.waitLeader(); l != nil {
			return l, true
		}
	}
	m := tm.members[rng.IntN(len(tm.members))]
	return m, m == tm.leader()
}

// followers returns the members other than l, shuffled by rng.
func (tm *team) followers(rng *rand.Rand, l *member) []*member {
	var out []*member
	for _, m := range tm.members {
		if m != l {
			out = append(out, m)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// all runs f on every member at once (kill-all, restart-all).
func all(ms []*member, f func(*member) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Go(func() { errs[i] = f(m) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// nemKill: SIGKILL a member (the leader half the time), restart it with its
// data after 1–3 s; three rounds.
func nemKill(tm *team, rng *rand.Rand) error {
	for range 3 {
		m, isLeader := tm.target(rng)
		if err := tm.kill(m); err != nil {
			return err
		}
		if isLeader {
			tm.events.lostLeader(time.Now())
		}
		tm.hold(between(rng, time.Second, 3*time.Second))
		if err := tm.start(m); err != nil {
			return err
		}
		tm.hold(between(rng, time.Second, 2*time.Second))
	}
	return nil
}

// nemPause: freeze a member (the leader half the time) for 2–4 s, longer
// than the election timeout; two rounds.
func nemPause(tm *team, rng *rand.Rand) error {
	for range 2 {
		m, isLeader := tm.target(rng)
		if err := tm.pause(m); err != nil {
			return err
		}
		if isLeader {
			tm.events.lostLeader(time.Now())
		}
		tm.hold(between(rng, 2*time.Second, 4*time.Second))
		if err := tm.unpause(m); err != nil {
			return err
		}
		tm.hold(between(rng, time.Second, 2*time.Second))
	}
	return nil
}

// nemPartitionOne: cut one member (the leader half the time) off the
// network for 2–5 s; two rounds.
func nemPartitionOne(tm *team, rng *rand.Rand) error {
	for range 2 {
		m, isLeader := tm.target(rng)
		if err := tm.disconnect(m); err != nil {
			return err
		}
		if isLeader {
			tm.events.lostLeader(time.Now())
		}
		tm.hold(between(rng, 2*time.Second, 5*time.Second))
		if err := tm.connect(m); err != nil {
			return err
		}
		tm.hold(between(rng, time.Second, 2*time.Second))
	}
	return nil
}

// nemPartitionLeaderMinority: the leader and, in a team of 5, one follower
// are cut off for 3–5 s (each alone: a disconnected container reaches
// nobody), so the majority elects a new leader while the old one's
// followers' forwards are in flight.
func nemPartitionLeaderMinority(tm *team, rng *rand.Rand) error {
	l := tm.waitLeader()
	cut := []*member{l}
	if len(tm.members) == 5 {
		cut = append(cut, tm.followers(rng, l)[0])
	}
	if err := all(cut, tm.disconnect); err != nil {
		return err
	}
	tm.events.lostLeader(time.Now())
	tm.hold(between(rng, 3*time.Second, 5*time.Second))
	return all(cut, tm.connect)
}

// nemPartitionMajority: a majority of the members, drawn at random (the
// leader among them or not), is cut off for 3–5 s: nobody has quorum, so
// sends are queued, then delivered once it heals.
func nemPartitionMajority(tm *team, rng *rand.Rand) error {
	ms := append([]*member(nil), tm.members...)
	rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	cut := ms[:len(ms)/2+1]
	if err := all(cut, tm.disconnect); err != nil {
		return err
	}
	tm.events.lostLeader(time.Now()) // no quorum anywhere: the leader is lost either way
	tm.hold(between(rng, 3*time.Second, 5*time.Second))
	return all(cut, tm.connect)
}

// nemKillAll: every member SIGKILLed at once, restarted after 1–3 s.
func nemKillAll(tm *team, rng *rand.Rand) error {
	if err := all(tm.members, tm.kill); err != nil {
		return err
	}
	tm.events.lostLeader(time.Now())
	tm.hold(between(rng, time.Second, 3*time.Second))
	return all(tm.members, tm.start)
}

// nemLeaderKillDuringHeal: followers (1 of 3, 2 of 5) are cut off for
// 3–5 s while the majority commits; right after they are reconnected, while
// they catch up and apply, the leader is SIGKILLed (the pattern of
// hashicorp/raft#695), then restarted after 1–2 s.
func nemLeaderKillDuringHeal(tm *team, rng *rand.Rand) error {
	l := tm.waitLeader()
	cut := tm.followers(rng, l)[:(len(tm.members)-1)/2]
	if err := all(cut, tm.disconnect); err != nil {
		return err
	}
	tm.hold(between(rng, 3*time.Second, 5*time.Second))
	if err := all(cut, tm.connect); err != nil {
		return err
	}
	tm.hold(between(rng, 0, 300*time.Millisecond))
	if err := tm.kill(l); err != nil {
		return err
	}
	tm.events.lostLeader(time.Now())
	tm.hold(between(rng, time.Second, 2*time.Second))
	return tm.start(l)
}

// nemSkew strobes members' local clocks for 6 s: every 200–800 ms a member
// drawn at random (the leader included) jumps to a skew of ±1 s to ±5 min.
func nemSkew(tm *team, rng *rand.Rand) error {
	deadline := time.Now().Add(6 * time.Second)
	tm.events.begin()
	defer tm.events.end()
	for time.Now().Before(deadline) {
		m := tm.members[rng.IntN(len(tm.members))]
		d := between(rng, time.Second, 5*time.Minute)
		if rng.IntN(2) == 0 {
			d = -d
		}
		if err := tm.skew(m, d); err != nil {
			return err
		}
		tm.hold(between(rng, 200*time.Millisecond, 800*time.Millisecond))
	}
	return nil
}
