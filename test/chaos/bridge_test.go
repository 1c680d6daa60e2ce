package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// A bridge partition (two sides that cannot reach each other, both reaching
// the bridge member) cannot be made with `docker network disconnect`, which
// cuts a container off from everyone. It is made with iptables rules inside
// the members' network namespaces, entered from the host (the image is FROM
// scratch: the tools are the host's).
const (
	iptablesBin = "/usr/sbin/iptables"
	// dialEnv makes the test binary a one-shot TCP dialer (see TestMain):
	// run under nsenter in a member's network namespace, it shows whether
	// that member reaches an address.
	dialEnv = "CONCORD_CHAOS_DIAL"
)

// dialAndExit is the dialer's whole life: exit 0 if a TCP connection to
// addr opens within a second, else 1.
func dialAndExit(addr string) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c.Close()
	os.Exit(0)
}

// nemBridge: the members other than one bridge are split into two sides
// (1 and 1 of 3, 2 and 2 of 5) that cannot reach each other, while both
// reach the bridge; the bridge is the leader half the time, else the leader
// is on a side. Pre-vote must keep the side that lost the leader from
// deposing it through the bridge; that side's sends queue until the heal.
// Two rounds of 3–5 s.
func nemBridge(tm *team, rng *rand.Rand) error {
	for range 2 {
		l := tm.waitLeader()
		rest := tm.followers(rng, l)
		bridge := l
		if rng.IntN(2) == 0 {
			bridge, rest[0] = rest[0], l
			rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		}
		left, right := rest[:len(rest)/2], rest[len(rest)/2:]
		cutAt, err := tm.bridgeCut(left, right, bridge)
		if err != nil {
			return err
		}
		if tm.leaderLosesQuorum(l, left, right, bridge) {
			tm.events.lostLeader(cutAt)
		}
		tm.hold(between(rng, 3*time.Second, 5*time.Second))
		if err := tm.unblockAll(); err != nil {
			return err
		}
		tm.hold(between(rng, time.Second, 2*time.Second))
	}
	return nil
}

// leaderLosesQuorum reports whether the voters the leader still reaches
// (its own side and the bridge) are fewer than a majority of the voters
// (with 5 members autopilot keeps 3 voters, wherever they are).
func (tm *team) leaderLosesQuorum(l *member, left, right []*member, bridge *member) bool {
	st, err := tm.status(bridge)
	if err != nil || len(st.Voters) == 0 {
		return false
	}
	side := left
	switch {
	case slices.Contains(right, l):
		side = right
	case !slices.Contains(left, l): // l is the bridge: it reaches everyone
		return false
	}
	n := 0
	for _, m := range append([]*member{bridge}, side...) {
		if slices.Contains(st.Voters, m.id) {
			n++
		}
	}
	return n <= len(st.Voters)/2
}

// dropRules are the rules that cut one member off from some peers, in its
// network namespace (the PID of its container's process names it).
type dropRules struct {
	m     *member
	pid   string
	peers []*member
}

// bridgeCut drops all traffic between every member of left and every member
// of right (both directions, on both ends), then checks that the cut holds:
// each side no longer reaches the other, and still reaches the bridge. It
// returns when the rules were in force (the check takes a second or more).
func (tm *team) bridgeCut(left, right []*member, bridge *member) (time.Time, error) {
	tm.events.add("bridge partition: %s | %s | %s", names(left), bridge.name, names(right))
	var rules []*dropRules
	for _, side := range [][2][]*member{{left, right}, {right, left}} {
		for _, m := range side[0] {
			pid, err := docker(tm.ctx, "inspect", "-f", "{{.State.Pid}}", m.container)
			if err != nil {
				return time.Time{}, err
			}
			rules = append(rules, &dropRules{m: m, pid: pid, peers: side[1]})
		}
	}
	tm.mu.Lock()
	tm.blocked = append(tm.blocked, rules...)
	tm.mu.Unlock()
	tm.events.begin()
	if err := eachRule(rules, func(r *dropRules) error { return tm.iptables("-A", r) }); err != nil {
		return time.Time{}, err
	}
	cutAt := time.Now()
	return cutAt, eachRule(rules, func(r *dropRules) error {
		var errs []error
		for _, p := range r.peers {
			if tm.reaches(r, p) {
				errs = append(errs, fmt.Errorf("bridge partition does not cut: %s still reaches %s", r.m.name, p.name))
			}
		}
		if !tm.reaches(r, bridge) {
			errs = append(errs, fmt.Errorf("bridge partition cuts too much: %s no longer reaches the bridge %s", r.m.name, bridge.name))
		}
		return errors.Join(errs...)
	})
}

// eachRule runs f on every member's rules at once.
func eachRule(rules []*dropRules, f func(*dropRules) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(rules))
	for i, r := range rules {
		wg.Go(func() { errs[i] = f(r) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// unblockAll deletes every rule bridgeCut added.
func (tm *team) unblockAll() error {
	tm.mu.Lock()
	rules := tm.blocked
	tm.blocked = nil
	tm.mu.Unlock()
	if len(rules) == 0 {
		return nil
	}
	defer tm.events.end()
	tm.events.add("bridge partition healed")
	if err := eachRule(rules, func(r *dropRules) error { return tm.iptables("-D", r) }); err != nil {
		return fmt.Errorf("heal bridge partition: %w", err)
	}
	return nil
}

// iptables adds (-A) or deletes (-D) the rules that drop r.m's packets to
// and from each of r.peers.
func (tm *team) iptables(op string, r *dropRules) error {
	for _, p := range r.peers {
		for _, rule := range [][]string{{"INPUT", "-s"}, {"OUTPUT", "-d"}} {
			if err := tm.nsenter(r, iptablesBin, "-w", op, rule[0], rule[1], p.ip, "-j", "DROP"); err != nil {
				return err
			}
		}
	}
	return nil
}

// reaches reports whether r.m opens a TCP connection to to's Concord port,
// from r.m's network namespace (the test binary as dialer, see dialEnv).
func (tm *team) reaches(r *dropRules, to *member) bool {
	self, err := os.Executable()
	if err != nil {
		tm.t.Error(err)
		return false
	}
	return tm.nsenter(r, "env", dialEnv+"="+fmt.Sprintf("%s:%d", to.ip, memberPort), self) == nil
}

// nsenter runs a host command in r.m's network namespace.
func (tm *team) nsenter(r *dropRules, args ...string) error {
	ctx, cancel := context.WithTimeout(tm.ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"-t", r.pid, "-n"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nsenter -t %s (%s) %s: %v: %s", r.pid, r.m.name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func names(ms []*member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	return strings.Join(out, ",")
}
