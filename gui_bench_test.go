//go:build guibench && !headless

package main

// `make gui-bench`: the real GUI binary under Xvfb on a data dir whose
// #general holds GUI_BENCH_MESSAGES (default 100,000) messages. It reports
// start to interactive, RSS and idle CPU (docs/benchmarks.md); it fails
// only when it cannot measure, never on a figure: machines differ.

import (
	"bufio"
	"concord/internal/testutil"
	"concord/node"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Phases of one measurement.
const (
	benchSettle = 5 * time.Second  // after interactive, before idle is measured
	benchIdle   = 20 * time.Second // the idle CPU window
)

func TestGUIBench(t *testing.T) {
	for _, tool := range []string{"Xvfb", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (tools/install-deps.sh)", tool)
		}
	}
	count, runs := envInt(t, "GUI_BENCH_MESSAGES", 100_000), envInt(t, "GUI_BENCH_RUNS", 3)
	bin := os.Getenv("GUI_BENCH_BIN") // `make gui-bench`: the binary `make build` makes
	if bin == "" {
		bin = buildConcord(t)
	}
	dir := seedChannel(t, count)
	xenv := startXvfb(t)
	home := t.TempDir() // Fyne's preferences (window size) stay out of $HOME
	xenv = append(xenv, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	base := buildBaseline(t)
	for i := 1; i <= runs; i++ {
		b := measureBaseline(t, base, xenv)
		r := measureGUI(t, bin, dir, xenv)
		fmt.Printf("gui-bench messages=%d run=%d %s\n", count, i, r)
		fmt.Printf("gui-bench baseline (empty Fyne window) run=%d rss=%.1fMB (anon %.1fMB) idle_cpu=%.2f%%\n",
			i, float64(b.rss)/1024, float64(b.anon)/1024, b.idleCPU)
	}
}

// buildBaseline builds bench/fyneidle with the GUI's build tags.
func buildBaseline(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fyneidle")
	out, err := exec.Command("go", "build", "-tags", os.Getenv("GUI_BENCH_TAGS"), "-o", bin, "./bench/fyneidle").CombinedOutput()
	if err != nil {
		t.Fatalf("build the baseline: %v\n%s", err, out)
	}
	return bin
}

// measureBaseline starts the empty Fyne window and measures it like the GUI.
func measureBaseline(t *testing.T, bin string, env []string) guiRun {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	testutil.WaitFor(t, 60*time.Second, "the baseline window", func() bool {
		out, err := xdo(env, "search", "--onlyvisible", "--name", "Fyne idle baseline")
		return err == nil && out != ""
	})
	<-time.After(benchSettle) // a measurement window, as for the GUI
	var r guiRun
	r.rss, r.anon = procStatusKB(t, cmd.Process.Pid, "VmRSS"), procStatusKB(t, cmd.Process.Pid, "RssAnon")
	r.idleCPU = cpuDuring(t, cmd.Process.Pid, func() { <-time.After(benchIdle) })
	return r
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// seedChannel makes a member whose #general holds count messages, sent
// through the real path (outbox, Raft, store) by 256 concurrent senders.
// With GUI_BENCH_DIR set, a member seeded there before is reused.
func seedChannel(t *testing.T, count int) string {
	t.Helper()
	dir := os.Getenv("GUI_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "bench")
	} else if node.HasMember(dir) {
		t.Logf("reusing the member in %s", dir)
		return dir
	}
	if _, err := cli(t, "init", "--data", dir, "--name", "ann", "--team", "Scale test", "--listen", loopback, "--ntp", noNTP[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	n, err := node.Open(ctx, node.Config{Dir: dir, NTP: noNTP})
	if err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var sendErr error
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(count); i = next.Add(1) {
				if _, err := n.Send(ctx, "general", benchText(int(i))); err != nil {
					once.Do(func() { sendErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	t.Logf("seeded %d messages in %v", count, time.Since(start).Round(time.Millisecond))
	return dir
}

var benchWords = strings.Fields("the deploy is green again, can someone review my change to the outbox? " +
	"lunch at noon; I moved the meeting to Thursday because the release slipped by a day and a half")

// benchText is message i: 3 to 40 words, every 25th on two lines.
func benchText(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d", i)
	for w := range 3 + i*7919%38 {
		b.WriteByte(' ')
		b.WriteString(benchWords[(i+w*31)%len(benchWords)])
	}
	if i%25 == 0 {
		b.WriteString("\nand a second line")
	}
	return b.String()
}

// guiRun is one start of the GUI.
type guiRun struct {
	shown, mapped     time.Duration // start to "channel shown" logged; to the window mapped
	rss, anon, hwm    int64         // KiB after settling: VmRSS, its anonymous part, the peak
	idleCPU           float64       // percent of one core over benchIdle
	scrollRSS         int64         // KiB after scrolling up through older pages
	scrollCPU         float64       // percent of one core while scrolling
	loadedAfterScroll int           // "channel page" lines: older pages fetched while scrolling
}

func (r guiRun) String() string {
	return fmt.Sprintf("interactive=%v (page shown %v, window mapped %v) rss=%.1fMB (anon %.1fMB) peak=%.1fMB idle_cpu=%.2f%% scroll_rss=%.1fMB scroll_cpu=%.1f%% pages_loaded_on_scroll=%d",
		max(r.shown, r.mapped).Round(time.Millisecond), r.shown.Round(time.Millisecond), r.mapped.Round(time.Millisecond),
		float64(r.rss)/1024, float64(r.anon)/1024, float64(r.hwm)/1024, r.idleCPU, float64(r.scrollRSS)/1024, r.scrollCPU, r.loadedAfterScroll)
}

// measureGUI starts `concord run` with a window on dir and measures it.
func measureGUI(t *testing.T, bin, dir string, env []string) guiRun {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "gui.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--data", dir, "--log-level", "info")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the GUI did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("--- GUI log:\n%s", tailFile(logPath, 80))
		}
	}()

	var r guiRun
	var win string
	testutil.WaitFor(t, 60*time.Second, "the window", func() bool {
		out, err := xdo(env, "search", "--onlyvisible", "--name", "Concord")
		if err != nil || out == "" {
			return false
		}
		win = strings.Fields(out)[0]
		r.mapped = time.Since(start) // an upper bound: polled
		return true
	})
	// The app logs this on the UI thread once the newest page is in the
	// list: from then on the window answers input.
	testutil.WaitFor(t, 60*time.Second, "the channel to be shown", func() bool {
		at, ok := logTime(logPath, `msg="channel shown"`, 1)
		r.shown = at.Sub(start)
		return ok
	})
	// Measurement windows, not synchronisation: the app has nothing to do.
	<-time.After(benchSettle)
	r.rss, r.hwm = procStatusKB(t, cmd.Process.Pid, "VmRSS"), procStatusKB(t, cmd.Process.Pid, "VmHWM")
	r.anon = procStatusKB(t, cmd.Process.Pid, "RssAnon")
	r.idleCPU = cpuDuring(t, cmd.Process.Pid, func() { <-time.After(benchIdle) })

	// Scroll up through older pages with the mouse wheel over the messages.
	before := countLog(logPath, `msg="channel page"`)
	r.scrollCPU = cpuDuring(t, cmd.Process.Pid, func() {
		if out, err := xdo(env, "mousemove", "--window", win, "500", "300", "click", "--repeat", "1000", "--delay", "10", "4"); err != nil {
			t.Fatalf("xdotool scroll: %v: %s", err, out)
		}
	})
	r.scrollRSS = procStatusKB(t, cmd.Process.Pid, "VmRSS")
	r.loadedAfterScroll = countLog(logPath, `msg="channel page"`) - before
	if s := os.Getenv("GUI_BENCH_SCREENSHOT"); s != "" {
		shot(t, env, s)
	}
	return r
}

// logTime returns the time field of the nth line of the log holding match.
func logTime(path, match string, nth int) (time.Time, bool) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, match) {
			continue
		}
		if nth--; nth > 0 {
			continue
		}
		field, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, field)
		return at, err == nil
	}
	return time.Time{}, false
}

func countLog(path, match string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), match)
}

// procStatusKB reads a "Field: N kB" line of /proc/PID/status.
func procStatusKB(t *testing.T, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// cpuDuring returns the CPU pid used while f ran, in percent of one core.
func cpuDuring(t *testing.T, pid int, f func()) float64 {
	c0, w0 := cpuTicks(t, pid), time.Now()
	f()
	c1, w1 := cpuTicks(t, pid), time.Now()
	return float64(c1-c0) / clockTicks * 100 / w1.Sub(w0).Seconds()
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// cpuTicks is utime+stime of pid.
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces: fields count from after its ")".
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %q", pid, b)
	}
	return ut + st
}

// shot saves the screen to path (ImageMagick's import).
func shot(t *testing.T, env []string, path string) {
	cmd := exec.Command("import", "-window", "root", path)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("screenshot: %v: %s", err, out)
	}
}
