package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Profile knobs (environment): CHAOS_SEED (the first run's seed; run i
// uses seed+i), CHAOS_RUNS (runs per scenario and team size, default 1),
// CHAOS_MEMBERS (team sizes, default "3"), CHAOS_SCENARIOS (names, default
// all), CHAOS_RESULTS (a file each run appends its figures to, JSON lines),
// CHAOS_MINUTES (start no run after this many minutes).
func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func baseSeed() int64 {
	return envInt("CHAOS_SEED", time.Now().UnixNano()%1_000_000_000)
}

func teamSizes() []int {
	var out []int
	for _, f := range strings.Fields(strings.ReplaceAll(os.Getenv("CHAOS_MEMBERS"), ",", " ")) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []int{3}
	}
	return out
}

// TestChaos runs every scenario (CHAOS_RUNS times, for each CHAOS_MEMBERS)
// and checks each run: nothing acknowledged or queued is lost, nothing is
// duplicated, every member has the same order, each author's order is kept.
func TestChaos(t *testing.T) {
	requireDocker(t)
	seed, runs := baseSeed(), envInt("CHAOS_RUNS", 1)
	only := strings.Fields(strings.ReplaceAll(os.Getenv("CHAOS_SCENARIOS"), ",", " "))
	t.Logf("base seed %d (CHAOS_SEED=%d reproduces these schedules)", seed, seed)
	// CHAOS_MINUTES bounds a long profile: no run starts after it.
	var stopAt time.Time
	if m := envInt("CHAOS_MINUTES", 0); m > 0 {
		stopAt = time.Now().Add(time.Duration(m) * time.Minute)
	}
	// Runs outermost: a long profile cut short still covers every scenario.
	for _, n := range teamSizes() {
		for i := range runs {
			for _, sc := range scenarios {
				if len(only) > 0 && !slices.Contains(only, sc.name) {
					continue
				}
				if !stopAt.IsZero() && time.Now().After(stopAt) {
					t.Logf("CHAOS_MINUTES reached: no more runs (stopped before %s, n=%d, run %d)", sc.name, n, i+1)
					return
				}
				s := seed + i
				t.Run(fmt.Sprintf("%s/n%d/seed%d", sc.name, n, s), func(t *testing.T) {
					image := imageTag
					if sc.image != nil {
						image = sc.image(t)
					}
					res := runScenario(t, image, n, s, sc.run, sc.setup)
					res.Scenario = sc.name
					saveResult(t, res)
					if !res.verdict.ok() {
						t.Errorf("checker: %v\nrerun: CHAOS=1 CHAOS_SEED=%d CHAOS_MEMBERS=%d CHAOS_SCENARIOS=%s go test ./test/chaos -run TestChaos -v",
							res.verdict, s, n, sc.name)
					}
				})
			}
		}
	}
}

// result is one run's figures (a line of CHAOS_RESULTS).
type result struct {
	Scenario      string  `json:"scenario"`
	Members       int     `json:"members"`
	Seed          int64   `json:"seed"`
	FaultSeconds  float64 `json:"fault_s"`
	Attempted     int     `json:"attempted"`
	Acked         int     `json:"acked"`
	Queued        int     `json:"queued"`
	Unknown       int     `json:"unknown"`
	UnknownLanded int     `json:"unknown_landed"`
	Lost          int     `json:"lost"`
	Duplicated    int     `json:"duplicated"`
	Divergences   int     `json:"divergences"`
	Reordered     int     `json:"reordered"`
	OK            bool    `json:"ok"`
	UnavailMS     []int64 `json:"unavail_ms"`
	verdict       verdict
}

// runScenario forms a team of n from image, loads it from every member,
// runs the nemesis drawn from seed, heals, checks that the team commits
// again, drains and judges every channel on every member.
func runScenario(t *testing.T, image string, n int, seed int64, nem nemesis, su setup) result {
	t.Logf("seed %d, %d members", seed, n)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636f6e636f7264))
	tm := newTeamOn(t, n, image, su)
	if _, err := tm.cli(tm.members[0], "channels", "--create", "chaos"); err != nil {
		t.Fatal(err)
	}
	w := startWorkload(tm, tm.members, 2, fmt.Sprintf("s%d", seed))
	tm.load = w
	stopped := false
	defer func() {
		if !stopped {
			tm.lastRecords = w.stop()
		}
	}()
	tm.waitFor(60*time.Second, "20 acknowledged sends before the faults", func() (bool, string) {
		return w.acked() >= 20, fmt.Sprintf("%d acknowledged", w.acked())
	})
	tm.events.add("faults start")
	if err := nem(tm, rng); err != nil {
		t.Errorf("nemesis: %v", err)
	}
	tm.heal()
	healed := w.acked()
	tm.waitFor(60*time.Second, "20 more acknowledged sends after healing", func() (bool, string) {
		return w.acked() >= healed+20, fmt.Sprintf("%d acknowledged since", w.acked()-healed)
	})
	records := w.stop()
	stopped, tm.lastRecords = true, records
	snap := tm.waitDrained()
	tm.lastSnapshot = snap
	v := judge(records, snap)
	v.Inconsistent = tm.checkDigests()
	t.Logf("events:\n%s", tm.events)
	t.Logf("checker: %v", v)
	tm.events.mu.Lock()
	res := result{Members: n, Seed: seed, FaultSeconds: tm.events.faulted.Seconds(),
		Attempted: v.Attempted, Acked: v.Acked, Queued: v.Queued, Unknown: v.Unknown, UnknownLanded: v.UnknownLanded,
		Lost: v.Lost, Duplicated: v.Duplicated, Divergences: v.Divergences, Reordered: v.Reordered, OK: v.ok(), verdict: v}
	losses := append([]time.Time(nil), tm.events.leaderLoss...)
	tm.events.mu.Unlock()
	for _, d := range unavailability(records, losses) {
		res.UnavailMS = append(res.UnavailMS, d.Milliseconds())
	}
	t.Logf("unavailable after leader loss (ms): %v", res.UnavailMS)
	return res
}

var resultsMu sync.Mutex

// saveResult appends the run's figures to CHAOS_RESULTS, if set.
func saveResult(t *testing.T, res result) {
	path := os.Getenv("CHAOS_RESULTS")
	if path == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("results: %v", err)
		return
	}
	defer f.Close()
	b, _ := json.Marshal(res)
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Errorf("results: %v", err)
	}
}
