package chaos

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestChaosCatchesPlantedNoDedup shows the suite can fail: members built
// with -tags concord_nodedup (an FSM that keeps duplicate IDs) run under a
// leader-kill nemesis, whose lost answers make followers resend with the
// same IDs. The checker must report duplicates; the test fails if it does
// not.
func TestChaosCatchesPlantedNoDedup(t *testing.T) {
	requireDocker(t)
	seed := baseSeed()
	res := runScenario(t, plantedBuild.get(t), 3, seed, nemKillLeader, setup{})
	if res.verdict.ok() || res.Duplicated == 0 {
		t.Fatalf("the checker missed the planted bug (seed %d): %v", seed, res.verdict)
	}
	t.Logf("caught as it should be: %d duplicated", res.Duplicated)
}

// nemKillLeader SIGKILLs the leader five times, restarting it after 1–2 s.
func nemKillLeader(tm *team, rng *rand.Rand) error {
	for range 5 {
		l := tm.waitLeader()
		if err := tm.kill(l); err != nil {
			return err
		}
		tm.events.lostLeader(time.Now())
		tm.hold(between(rng, time.Second, 2*time.Second))
		if err := tm.start(l); err != nil {
			return err
		}
		tm.hold(between(rng, time.Second, 2*time.Second))
	}
	return nil
}
