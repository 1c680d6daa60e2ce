package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"

	"concord/version"
)

// nemRollingUpgrade runs on a team of the previous release: one member at
// a time, in a random order, is stopped and started again on this tree's
// image (its data kept), under load, with a leader kill in the middle; the
// team version must then rise by itself once the last member is upgraded.
func nemRollingUpgrade(tm *team, rng *rand.Rand) error {
	order := rng.Perm(len(tm.members))
	for i, k := range order {
		if err := tm.upgrade(tm.members[k]); err != nil {
			return err
		}
		tm.hold(between(rng, time.Second, 3*time.Second))
		if i == len(order)/2 {
			l := tm.waitLeader()
			if err := tm.kill(l); err != nil {
				return err
			}
			tm.events.lostLeader(time.Now())
			tm.hold(between(rng, time.Second, 2*time.Second))
			if err := tm.start(l); err != nil {
				return err
			}
		}
	}
	done := time.Now()
	tm.waitFor(60*time.Second, fmt.Sprintf("team version %d on every member", version.Protocol), func() (bool, string) {
		for _, m := range tm.members {
			st, err := tm.status(m)
			if err != nil || st.TeamVersion != version.Protocol || st.Release != version.Release {
				return false, fmt.Sprintf("%s: release %q, team version %d, %v", m.name, st.Release, st.TeamVersion, err)
			}
		}
		return true, ""
	})
	tm.events.add("team version %d on every member %v after the last upgrade", version.Protocol, time.Since(done).Round(time.Millisecond))
	return nil
}

// upgrade replaces m's container with one of this tree's image on the same
// address and data dir.
func (tm *team) upgrade(m *member) error {
	tm.events.add("upgrade %s", m.name)
	if _, err := docker(tm.ctx, "rm", "-f", m.container); err != nil {
		return err
	}
	if _, err := docker(tm.ctx, tm.runArgs(m, imageTag)...); err != nil {
		return err
	}
	tm.mark(tm.stopped, m, false)
	return poll(tm.ctx, 30*time.Second, func() (bool, string) {
		_, err := tm.status(m)
		return err == nil, fmt.Sprint(err)
	})
}
