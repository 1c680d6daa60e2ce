package main

// Level 3 of the test plan: the real `concord` binary, one OS process per
// member, driven only through the CLI, on 127.0.0.1.

import (
	"bytes"
	"cmp"
	"concord/control"
	"concord/internal/testutil"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// procBinPrefix names the temp dirs the binary is built into.
const procBinPrefix = "concord-proctest-"

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// buildConcord builds the binary once per test binary run and returns its
// path. Without a TestMain nothing can remove it at the end, so each build
// removes the leftovers of runs more than an hour old instead (longer
// than any `go test -timeout` this project uses).
func buildConcord(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		pruneOldBinDirs()
		dir, err := os.MkdirTemp("", procBinPrefix)
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "concord")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func pruneOldBinDirs() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), procBinPrefix+"*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = os.RemoveAll(d)
		}
	}
}

// cliError is a failed CLI run: its exit code and what it wrote to stderr.
type cliError struct {
	args   []string
	err    error // from exec: the exit status, a timeout, ...
	code   int   // -1 when it did not exit normally
	stderr string
}

func (e *cliError) Error() string {
	return fmt.Sprintf("concord %s: %v: %s", strings.Join(shorten(e.args), " "), e.err, strings.TrimSpace(e.stderr))
}

// shorten keeps a 40 KiB argument out of error messages.
func shorten(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 80 {
			a = a[:40] + fmt.Sprintf("...(%d bytes)", len(a))
		}
		out[i] = a
	}
	return out
}

// cliTimeout bounds one CLI run; longer than any --timeout the tests pass.
const cliTimeout = 30 * time.Second

// cli runs the binary to completion and returns its stdout; a non-zero exit
// is a *cliError carrying stderr. Safe to call from any goroutine once
// buildConcord has run.
func cli(t testing.TB, args ...string) (string, error) {
	return cliIn(t, "", args...)
}

// cliIn is cli run inside network namespace ns ("" for the test's own).
func cliIn(t testing.TB, ns string, args ...string) (string, error) {
	return runCLI(t, buildConcord(t), ns, args...)
}

// runCLI is cli with binary bin (another release's, for instance).
func runCLI(t testing.TB, bin, ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	if ns != "" {
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%v (killed after %v)", err, cliTimeout)
		}
		return stdout.String(), &cliError{args: args, err: err, code: code, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// proc is one member's `concord run` process. Its output goes to
// NAME.log next to its data dir and is printed if the test fails.
type proc struct {
	t       testing.TB
	name    string
	dir     string
	id      string // peer ID, from init/join
	logPath string
	netns   string // network namespace to run in ("" for the test's own)
	bin     string // the binary `concord run` starts ("": this tree's)

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the running process exited
	waitErr error
}

func newProc(t testing.TB, name, dir, id string) *proc {
	p := &proc{t: t, name: name, dir: dir, id: id, logPath: filepath.Join(filepath.Dir(dir), name+".log")}
	// Cleanups run last-registered first: kill, then print the log.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- log of member %s (%s), last 150 lines:\n%s", p.name, p.logPath, tailFile(p.logPath, 150))
		}
	})
	t.Cleanup(p.kill)
	return p
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// note writes a test event into the member's log, so the log reads as a story.
func (p *proc) note(format string, args ...any) {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "=== test %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// start runs `concord run` and waits until its control socket answers.
func (p *proc) start() {
	t := p.t
	t.Helper()
	p.mu.Lock()
	if p.running() {
		p.mu.Unlock()
		t.Fatalf("member %s already running", p.name)
	}
	p.note("starting `concord run`")
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	bin := cmp.Or(p.bin, buildConcord(t))
	cmd := exec.Command(bin, "run", "--data", p.dir, "--log-level", "info")
	if p.netns != "" {
		cmd = exec.Command("ip", "netns", "exec", p.netns, bin, "run", "--data", p.dir, "--log-level", "info")
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		p.mu.Unlock()
		t.Fatalf("start member %s: %v", p.name, err)
	}
	f.Close() // the child has its own copy
	done := make(chan struct{})
	p.cmd, p.done, p.waitErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Unlock()
	p.waitReady()
}

// running reports whether the last started process is still alive.
func (p *proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return true, nil
	}
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// waitReady waits until `concord status` gets an answer from the member.
func (p *proc) waitReady() {
	t := p.t
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, "member "+p.name+" to answer on its socket", func() bool {
		if gone, err := p.exited(); gone {
			t.Fatalf("member %s exited while starting: %v", p.name, err)
		}
		_, err := runCLI(t, cmp.Or(p.bin, buildConcord(t)), "", "status", "--data", p.dir, "--json")
		return err == nil
	})
}

// kill SIGKILLs the member and waits until it is gone. No-op if not running.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done, alive := p.cmd, p.done, p.running()
	p.mu.Unlock()
	if !alive {
		return
	}
	p.note("SIGKILL")
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stopGrace is how long a SIGTERMed member may take: its control socket
// shutdown is bounded by 10 s and a leadership transfer by 2 s.
const stopGrace = 20 * time.Second

// stop SIGTERMs the member and waits for it; after stopGrace it SIGKILLs it
// and says so. It returns the process's exit error (nil: exit status 0).
func (p *proc) stop() error {
	p.mu.Lock()
	cmd, done, alive := p.cmd, p.done, p.running()
	p.mu.Unlock()
	if !alive {
		return errors.New("not running")
	}
	p.note("SIGTERM")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopGrace):
		p.note("still running %v after SIGTERM: SIGKILL", stopGrace)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("member %s did not stop within %v of SIGTERM", p.name, stopGrace)
	}
	_, err := p.exited()
	return err
}

func (p *proc) status() (control.Status, error) {
	var st control.Status
	out, err := cli(p.t, "status", "--data", p.dir, "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status of %s: %v: %q", p.name, err, out)
	}
	return st, nil
}

// history returns the IDs of the member's #general, in channel order.
func (p *proc) history() ([]string, error) {
	out, err := cli(p.t, "history", "--data", p.dir, "--json")
	if err != nil {
		return nil, err
	}
	var ids []string
	dec := json.NewDecoder(strings.NewReader(out))
	var lastSeq uint64
	for dec.More() {
		var row control.HistoryRow
		if err := dec.Decode(&row); err != nil {
			return nil, fmt.Errorf("history of %s: %v", p.name, err)
		}
		if row.Seq <= lastSeq {
			return nil, fmt.Errorf("history of %s: seq %d after %d", p.name, row.Seq, lastSeq)
		}
		lastSeq = row.Seq
		ids = append(ids, row.ID)
	}
	return ids, nil
}

// procTeam is a team of member processes under one temp dir.
type procTeam struct {
	t     testing.TB
	root  string
	procs []*proc
}

// newProcTeam forms a team the way users do: the first member inits and
// runs, the others join with its invite code and run; it returns once every
// member sees len(names) voters and a leader.
func newProcTeam(t testing.TB, names ...string) *procTeam {
	t.Helper()
	return newProcTeamOf(t, buildConcord(t), names...)
}

// newProcTeamOf is newProcTeam with the members on binary bin.
func newProcTeamOf(t testing.TB, bin string, names ...string) *procTeam {
	t.Helper()
	buildConcord(t)
	cli := func(t testing.TB, args ...string) (string, error) { return runCLI(t, bin, "", args...) }
	tm := &procTeam{t: t, root: t.TempDir()}
	for i, name := range names {
		dir := filepath.Join(tm.root, name)
		var out string
		var err error
		if i == 0 {
			out, err = cli(t, "init", "--data", dir, "--name", name, "--listen", loopback, "--ntp", noNTP[0])
		} else {
			code, ierr := cli(t, "invite", "--data", tm.procs[0].dir)
			if ierr != nil {
				t.Fatal(ierr)
			}
			out, err = cli(t, "join", "--data", dir, "--name", name, "--invite", strings.TrimSpace(code), "--listen", loopback, "--ntp", noNTP[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		p := newProc(t, name, dir, strings.TrimSpace(out))
		p.bin = bin
		tm.procs = append(tm.procs, p)
		p.start()
		if i == 0 {
			tm.waitLeader(p) // joins go through the leader
		}
	}
	tm.waitVoters(min(len(names), 3))
	return tm
}

func (tm *procTeam) waitLeader(p *proc) {
	tm.t.Helper()
	testutil.WaitFor(tm.t, 30*time.Second, p.name+" to see a leader", func() bool {
		st, err := p.status()
		return err == nil && st.Leader != ""
	})
}

// waitVoters waits until every running member reports n voters and the same
// leader.
func (tm *procTeam) waitVoters(n int) {
	tm.t.Helper()
	var last string
	defer logLastIfFailed(tm.t, "waiting for voters", &last)
	testutil.WaitFor(tm.t, 30*time.Second, fmt.Sprintf("%d voters and one leader on every member", n), func() bool {
		leader := ""
		for _, p := range tm.procs {
			if gone, err := p.exited(); gone {
				tm.t.Fatalf("member %s is not running: %v", p.name, err)
			}
			st, err := p.status()
			if err != nil {
				last = err.Error()
				return false
			}
			last = fmt.Sprintf("%s: raft state %s, %d voters, leader %q", p.name, st.RaftState, len(st.Voters), st.Leader)
			if len(st.Voters) != n || st.Leader == "" || (leader != "" && st.Leader != leader) {
				return false
			}
			leader = st.Leader
		}
		return true
	})
}

// logLastIfFailed is deferred around a waitFor: when the wait times out,
// t.Fatalf unwinds through it and it logs the last state the condition saw.
func logLastIfFailed(t testing.TB, what string, last *string) {
	if t.Failed() && *last != "" {
		t.Logf("%s: last seen: %s", what, *last)
	}
}

// leader returns the member that every member names as leader.
func (tm *procTeam) leader() *proc {
	tm.t.Helper()
	tm.waitVoters(3)
	st, err := tm.procs[0].status()
	if err != nil {
		tm.t.Fatal(err)
	}
	for _, p := range tm.procs {
		if p.id == st.Leader {
			return p
		}
	}
	tm.t.Fatalf("leader %s is none of the members", st.Leader)
	return nil
}

// waitConverged waits until every member has applied the same log and
// returns their #general histories (member name → IDs). The histories are
// read between two status rounds that agree on one applied index, so no
// commit landed in between.
func (tm *procTeam) waitConverged() map[string][]string {
	tm.t.Helper()
	return tm.waitConvergedOn(tm.procs)
}

// waitConvergedOn is waitConverged over some members only.
func (tm *procTeam) waitConvergedOn(procs []*proc) map[string][]string {
	tm.t.Helper()
	var out map[string][]string
	var last string
	applied := func() (uint64, bool) {
		var idx uint64
		for i, p := range procs {
			st, err := p.status()
			if err != nil {
				last = err.Error()
				return 0, false
			}
			if i > 0 && st.AppliedIndex != idx {
				last = fmt.Sprintf("applied index %d on %s, %d on %s", idx, procs[0].name, st.AppliedIndex, p.name)
				return 0, false
			}
			idx = st.AppliedIndex
		}
		return idx, true
	}
	defer logLastIfFailed(tm.t, "waiting for convergence", &last)
	testutil.WaitFor(tm.t, 30*time.Second, "members to converge", func() bool {
		before, ok := applied()
		if !ok {
			return false
		}
		hs := map[string][]string{}
		for _, p := range procs {
			h, err := p.history()
			if err != nil {
				last = err.Error()
				return false
			}
			hs[p.name] = h
		}
		if after, ok := applied(); !ok || after != before {
			return false
		}
		out = hs
		return true
	})
	return out
}

// procSendLoad has `per` senders on each given member send `count`
// messages one after another, each with its own `concord send` process.
// Authors are "<member>/<tag><n>". acked counts successes as they happen.
func procSendLoad(t testing.TB, members []*proc, tag string, per, count int, timeout time.Duration, acked *atomic.Int64) ([]attempt, map[string]int) {
	var mu sync.Mutex
	var out []attempt
	failures := map[string]int{} // reason (member-independent) → count
	var wg sync.WaitGroup
	for _, p := range members {
		for s := range per {
			wg.Go(func() {
				author := fmt.Sprintf("%s/%s%d", p.name, tag, s)
				for k := range count {
					stdout, err := cli(t, "send", "--data", p.dir, "--timeout", timeout.String(), fmt.Sprintf("%s #%d", author, k))
					id := strings.TrimSpace(stdout)
					if err == nil && (id == "" || strings.ContainsAny(id, " \n")) {
						err = fmt.Errorf("exit 0 but stdout is not one message ID: %q", stdout)
					}
					if err == nil && acked != nil {
						acked.Add(1)
					}
					mu.Lock()
					out = append(out, attempt{ID: id, Author: author, Acked: err == nil})
					if err != nil {
						failures[failureReason(err, p.dir)]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return out, failures
}

// failureReason is the first line of a failed send's stderr, without the
// member's data dir, so equal failures on different members count together.
func failureReason(err error, dir string) string {
	var ce *cliError
	if !errors.As(err, &ce) {
		return err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(ce.stderr), "\n")
	line = strings.ReplaceAll(line, dir, "DIR")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return fmt.Sprintf("exit %d: %s", ce.code, line)
}

func logFailures(t testing.TB, what string, f map[string]int) {
	t.Helper()
	if len(f) == 0 {
		return
	}
	var lines []string
	for reason, n := range f {
		lines = append(lines, fmt.Sprintf("%4d× %s", n, reason))
	}
	sort.Strings(lines)
	t.Logf("%s: failed sends by reason:\n%s", what, strings.Join(lines, "\n"))
}

// through counts the attempts and acknowledgements sent through member name.
func through(attempts []attempt, name string) (n, acked int) {
	for _, a := range attempts {
		if strings.HasPrefix(a.Author, name+"/") {
			n++
			if a.Acked {
				acked++
			}
		}
	}
	return n, acked
}

const loopback = "/ip4/127.0.0.1/tcp/0"

// noNTP is an NTP server nobody answers on: members use the system clock.
var noNTP = []string{"127.0.0.1:9"}

// historyOf reports whether #general of the member in dir holds text,
// asked with the CLI run.
func historyOf(t *testing.T, run func(...string) (string, error), dir, text string) bool {
	out, err := run("history", "--data", dir, "--json")
	if err != nil {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var row control.HistoryRow
		if dec.Decode(&row) != nil {
			return false
		}
		if row.Text == text {
			return true
		}
	}
	return false
}
