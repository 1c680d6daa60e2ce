package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"concord/internal/smallfs"
	"concord/internal/testutil"
)

// The members' settings: one fixed port inside each container, no NTP
// server reachable (members take the time from the leader).
const (
	memberPort = 7000
	noNTP      = "127.0.0.1:9"
	cliTimeout = 30 * time.Second
)

// member is one container. Its data dir is a bind mount of dir, so the
// harness reaches its control socket (dir/concord.sock) from the host.
type member struct {
	name, container, ip, dir, id string
}

// team is one run's private network and member containers.
type team struct {
	t       *testing.T
	ctx     context.Context
	image   string
	env     []string // the containers' extra environment
	network string
	members []*member
	events  *eventLog
	load    *workload // the run's senders, once started (nil in the attack tests)

	// What the last check saw, kept as artifacts if the test fails.
	lastRecords  []record
	lastSnapshot snapshot

	mu      sync.Mutex
	paused  map[*member]bool
	cut     map[*member]bool
	stopped map[*member]bool
	blocked []*dropRules // a bridge partition in force
}

// newTeam creates a network with its own subnet and forms a team of n
// member containers through the CLI: the first inits, the others join with
// an invite code from a running member; each then runs `concord run`.
// Everything it creates is removed when the test ends.
func newTeam(t *testing.T, n int, image string) *team {
	t.Helper()
	return newTeamOn(t, n, image, setup{})
}

// newTeamOn is newTeam set up as su says: with su.smallDisk, each member's
// data dir is on a filesystem of its own of that many bytes (a tmpfs
// mounted on the host, seen by the container through its bind mount), so a
// nemesis can fill one member's disk; su.env is added to every container's
// environment (init, join and run).
func newTeamOn(t *testing.T, n int, image string, su setup) *team {
	t.Helper()
	ctx := t.Context()
	tm := &team{t: t, ctx: context.WithoutCancel(ctx), image: image, env: su.env, events: newEventLog(),
		paused: map[*member]bool{}, cut: map[*member]bool{}, stopped: map[*member]bool{}}
	run := fmt.Sprintf("cc%06x", rand.Uint32()&0xffffff)
	prefix := tm.createNetwork(run)
	root := t.TempDir()
	t.Cleanup(tm.remove) // registered first: runs after the artifacts are kept
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i+1), ip: fmt.Sprintf("%s.%d", prefix, 11+i)}
		m.container, m.dir = run+"-"+m.name, filepath.Join(root, m.name)
		if su.smallDisk > 0 {
			smallfs.MountAt(t, m.dir, su.smallDisk)
		}
		tm.members = append(tm.members, m)
	}
	t.Cleanup(tm.keepArtifactsIfFailed)
	for i, m := range tm.members {
		args := []string{"init", "--data", "/data", "--name", m.name}
		if i > 0 {
			code, err := tm.cli(tm.members[0], "invite")
			if err != nil {
				t.Fatal(err)
			}
			args = []string{"join", "--data", "/data", "--name", m.name, "--invite", code}
		}
		args = append(args, "--listen", fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", memberPort), "--ntp", noNTP)
		id, err := tm.oneShot(m, args...)
		if err != nil {
			t.Fatalf("%s %s: %v", args[0], m.name, err)
		}
		m.id = id
		if _, err := docker(tm.ctx, tm.runArgs(m, image)...); err != nil {
			t.Fatal(err)
		}
		tm.waitReady(m)
		if i == 0 {
			tm.waitFor(30*time.Second, "a leader on m1", func() (bool, string) {
				st, err := tm.status(m)
				return err == nil && st.Leader != "", fmt.Sprint(st, err)
			})
		}
	}
	tm.waitHealthy(min(n, 3))
	return tm
}

// createNetwork makes a bridge network with a /24 of its own (retrying
// another one when it overlaps a network that exists) and returns the
// subnet's first three octets.
func (tm *team) createNetwork(run string) string {
	t := tm.t
	t.Helper()
	var lastErr error
	for range 8 {
		prefix := fmt.Sprintf("10.%d.%d", 200+rand.IntN(50), rand.IntN(256))
		_, err := docker(tm.ctx, "network", "create", "--driver", "bridge", "--subnet", prefix+".0/24",
			"--label", label(), run)
		if err == nil {
			tm.network = run
			return prefix
		}
		lastErr = err
	}
	t.Fatalf("no free subnet: %v", lastErr)
	return ""
}

// oneShot runs one CLI command in a container at the member's address with
// its data dir (init and join), waits for it and removes it.
func (tm *team) oneShot(m *member, args ...string) (string, error) {
	name := m.container + "-" + args[0]
	defer docker(tm.ctx, "rm", "-f", name) //nolint:errcheck // best effort; remove() also sweeps
	cmd := []string{"run", "--name", name, "--network", tm.network, "--ip", m.ip, "--label", label(), "-v", m.dir + ":/data"}
	cmd = append(append(cmd, tm.envArgs()...), tm.image)
	return docker(tm.ctx, append(cmd, args...)...)
}

// runArgs is the docker command that starts m's container from image:
// `concord run` at its address on its data dir.
func (tm *team) runArgs(m *member, image string) []string {
	args := []string{"run", "-d", "--name", m.container, "--network", tm.network, "--ip", m.ip,
		"--label", label(), "-v", m.dir + ":/data"}
	args = append(args, tm.envArgs()...)
	return append(args, image, "run", "--data", "/data", "--log-level", "info")
}

// envArgs is the team's extra environment as docker run's flags.
func (tm *team) envArgs() []string {
	var out []string
	for _, e := range tm.env {
		out = append(out, "-e", e)
	}
	return out
}

// remove deletes the run's containers and network, also after a failure.
func (tm *team) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var names []string
	for _, m := range tm.members {
		names = append(names, m.container, m.container+"-init", m.container+"-join")
	}
	// Paused containers cannot be killed by rm -f on every engine: unpause first.
	for _, m := range tm.members {
		_, _ = docker(ctx, "unpause", m.container)
	}
	_, _ = docker(ctx, append([]string{"rm", "-f"}, names...)...)
	if tm.network != "" {
		if _, err := docker(ctx, "network", "rm", tm.network); err != nil {
			tm.t.Errorf("cleanup: %v", err)
		}
	}
}

// cliError is a failed CLI run: what it wrote to stderr.
type cliError struct {
	args   []string
	err    error
	stderr string
}

func (e *cliError) Error() string {
	return fmt.Sprintf("concord %s: %v: %s", strings.Join(shorten(e.args), " "), e.err, strings.TrimSpace(e.stderr))
}

// cli runs the host binary against the member's control socket
// (subcommand, then --data DIR, then args) and returns its trimmed stdout.
func (tm *team) cli(m *member, sub string, args ...string) (string, error) {
	return runCLI(tm.ctx, cliTimeout, append([]string{sub, "--data", m.dir}, args...)...)
}

func runCLI(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, hostBinary(), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), &cliError{args: args, err: err, stderr: stderr.String()}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// status is the part of `concord status --json` the harness reads.
type status struct {
	ID           string   `json:"id"`
	RaftState    string   `json:"raft_state"`
	Leader       string   `json:"leader"`
	Voters       []string `json:"voters"`
	Nonvoters    []string `json:"nonvoters"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Outbox       *int     `json:"outbox"`
	Peers        []struct {
		ID      string `json:"id"`
		Healthy bool   `json:"healthy"`
	} `json:"peers"`
	Storage struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"storage"`
	Disk struct {
		State string `json:"state"`
	} `json:"disk"`
	Release     string `json:"release"`
	TeamVersion int    `json:"team_version"`
}

func (tm *team) status(m *member) (status, error) {
	var st status
	out, err := tm.cli(m, "status", "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status of %s: %v: %q", m.name, err, out)
	}
	return st, nil
}

// pollEvery is how often the suite checks the team at most: each check
// runs the CLI in a container.
const pollEvery = 100 * time.Millisecond

// waitFor polls cond until it holds or the deadline passes; the last
// detail it returned goes into the failure.
func (tm *team) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	tm.t.Helper()
	if err := poll(tm.ctx, timeout, cond); err != nil {
		tm.t.Fatalf("waiting %v for %s: %v", timeout, what, err)
	}
}

// poll is waitFor's loop, for goroutines that must not call t.Fatal.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, string)) error {
	return testutil.Poll(ctx, timeout, pollEvery, cond)
}

func (tm *team) waitReady(m *member) {
	tm.t.Helper()
	tm.waitFor(30*time.Second, m.name+" to answer on its socket", func() (bool, string) {
		_, err := tm.status(m)
		return err == nil, fmt.Sprint(err)
	})
}

// waitHealthy waits until every member answers, reports at least `voters`
// voters (autopilot promotes joiners; with 5 members it may keep 5) and
// names the same leader.
func (tm *team) waitHealthy(voters int) {
	tm.t.Helper()
	tm.waitFor(60*time.Second, fmt.Sprintf("%d voters and one leader everywhere", voters), func() (bool, string) {
		leader := ""
		for _, m := range tm.members {
			st, err := tm.status(m)
			if err != nil {
				return false, err.Error()
			}
			if len(st.Voters) < voters || st.Leader == "" || (leader != "" && st.Leader != leader) {
				return false, fmt.Sprintf("%s: raft state %s, %d voters, leader %q", m.name, st.RaftState, len(st.Voters), st.Leader)
			}
			leader = st.Leader
		}
		return true, ""
	})
}

// leader returns the member the first answering member names as leader,
// or nil when none does.
func (tm *team) leader() *member { return tm.leaderSeenBy(nil) }

// leaderSeenBy returns the leader as the first answering member other than
// m (nil: any) names it, or nil.
func (tm *team) leaderSeenBy(not *member) *member {
	for _, m := range tm.members {
		if m == not {
			continue
		}
		st, err := tm.status(m)
		if err != nil || st.Leader == "" {
			continue
		}
		for _, l := range tm.members {
			if l.id == st.Leader {
				return l
			}
		}
	}
	return nil
}

// waitLeader polls for a leader (a nemesis aiming at it needs one).
func (tm *team) waitLeader() *member {
	tm.t.Helper()
	var l *member
	tm.waitFor(30*time.Second, "a leader", func() (bool, string) {
		l = tm.leader()
		return l != nil, "no member names a leader"
	})
	return l
}

var errNotRunning = errors.New("not running")
