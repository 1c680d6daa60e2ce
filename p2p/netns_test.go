package p2p

// Helpers for tests that need hosts with their own addresses: loopback has
// no multicast, so mDNS is tested between network namespaces joined by veth
// links to a bridge, one helper process (this test binary, re-executed
// under "ip netns exec") per host.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"concord/internal/netlab"
	"concord/internal/testutil"
)

// Environment of a helper process; envMDNSService set means "be a helper".
const (
	envMDNSService = "CONCORD_TEST_MDNS_SERVICE"
	envMDNSDir     = "CONCORD_TEST_MDNS_DIR"
	envMDNSHint    = "CONCORD_TEST_MDNS_HINT"   // "teamID|name": announce a team hint
	envMDNSBrowse  = "CONCORD_TEST_MDNS_BROWSE" // set: browse team hints
)

// helperLifetime bounds a helper process that its parent forgot to stop.
const helperLifetime = 3 * time.Minute

// mdnsChild is a helper process running one host with discovery.
type mdnsChild struct {
	name, service string
	cmd           *exec.Cmd
	stdin         io.WriteCloser
	stderr        lockedBuffer
	exited        chan struct{} // closed once stdout hit EOF and Wait returned
	waitErr       error         // set before exited is closed

	mu     sync.Mutex
	events []mdnsEvent
}

// startMDNSChild starts a helper process in member name's namespace: a
// host listening on 0.0.0.0 with discovery under service, which connects to
// every peer it finds, with its data in dir (a fresh directory if dir is
// ""). The process is killed when the test ends, before the namespaces are
// deleted.
func startMDNSChild(t *testing.T, lan *netlab.LAN, name, service, dir string, env ...string) *mdnsChild {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	if dir == "" {
		dir = filepath.Join(t.TempDir(), name)
	}
	c := &mdnsChild{name: name, service: service, exited: make(chan struct{})}
	c.cmd = exec.Command("ip", "netns", "exec", lan.NS(name), exe,
		"-test.run=^TestMDNSHelperProcess$", "-test.timeout="+(helperLifetime+time.Minute).String())
	c.cmd.Env = append(append(os.Environ(), envMDNSService+"="+service, envMDNSDir+"="+dir), env...)
	c.cmd.Stderr = &c.stderr
	c.cmd.WaitDelay = 5 * time.Second
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatalf("%s: stdin pipe: %v", name, err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: stdout pipe: %v", name, err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%s: starting helper process: %v", name, err)
	}
	go c.read(stdout)
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			c.mu.Lock()
			t.Logf("helper %s (%s) events: %v\nstderr:\n%s", name, service, c.events, c.stderr.String())
			c.mu.Unlock()
		}
	})
	return c
}

// read collects the child's "MDNS ..." lines until EOF, then reaps it.
func (c *mdnsChild) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 5)
		if len(f) < 4 || f[0] != "MDNS" {
			continue
		}
		id, err := peer.Decode(f[2])
		if err != nil {
			continue
		}
		ms, _ := strconv.ParseInt(f[3], 10, 64)
		ev := mdnsEvent{kind: f[1], peer: id, sinceStart: time.Duration(ms) * time.Millisecond, at: time.Now()}
		if len(f) == 5 {
			ev.rest = f[4]
		}
		c.mu.Lock()
		c.events = append(c.events, ev)
		c.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, stdout) // after a scanner error
	c.waitErr = c.cmd.Wait()
	close(c.exited)
}

// event returns the first event of kind about id (any peer if id is ""),
// or nil.
func (c *mdnsChild) event(kind string, id peer.ID) *mdnsEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.events {
		if e := c.events[i]; e.kind == kind && (id == "" || e.peer == id) {
			return &e
		}
	}
	return nil
}

// waitEvent waits for an event of kind about id; it fails the test if the
// child exits or the timeout passes first.
func (c *mdnsChild) waitEvent(t *testing.T, timeout time.Duration, kind string, id peer.ID) mdnsEvent {
	t.Helper()
	return c.waitMatch(t, timeout, fmt.Sprintf("%s %s", kind, id), func(e mdnsEvent) bool {
		return e.kind == kind && (id == "" || e.peer == id)
	})
}

// waitMatch waits for an event for which match holds and returns the
// first; it fails the test if the child exits or the timeout passes first.
func (c *mdnsChild) waitMatch(t *testing.T, timeout time.Duration, what string, match func(mdnsEvent) bool) mdnsEvent {
	t.Helper()
	var found mdnsEvent
	testutil.WaitFor(t, timeout, fmt.Sprintf("%s to report %s", c.name, what), func() bool {
		c.mu.Lock()
		for _, e := range c.events {
			if match(e) {
				found = e
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
		select {
		case <-c.exited:
			t.Fatalf("helper %s exited (%v) before reporting %s", c.name, c.waitErr, what)
		default:
		}
		return false
	})
	return found
}

// waitID returns the child's peer ID.
func (c *mdnsChild) waitID(t *testing.T, timeout time.Duration) peer.ID {
	t.Helper()
	return c.waitEvent(t, timeout, "ID", "").peer
}

// askToStop closes the child's stdin, which makes it close its host and
// exit.
func (c *mdnsChild) askToStop() { _ = c.stdin.Close() }

// stop asks the child to stop and waits for it to exit cleanly.
func (c *mdnsChild) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	c.askToStop()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.exited:
	case <-timer.C:
		t.Fatalf("helper %s did not exit within %v of being asked to stop", c.name, timeout)
	}
	if c.waitErr != nil {
		t.Errorf("helper %s: %v", c.name, c.waitErr)
	}
	if ev := c.event("CLOSED", ""); ev == nil || ev.rest != "ok" {
		t.Errorf("helper %s: host did not close cleanly: %v", c.name, ev)
	}
}

// TestMDNSHelperProcess is the body of a helper process started by
// startMDNSChild; run directly, it skips. It prints, on stdout, one line
// per event: "MDNS KIND PEER MS_SINCE_START_DISCOVERY [DETAIL]" with KIND
// ID (its own), FOUND, CONNECTED, CONNECTFAIL and, once its stdin is
// closed and its Host closed, CLOSED.
func TestMDNSHelperProcess(t *testing.T) {
	service := os.Getenv(envMDNSService)
	if service == "" {
		t.Skip("helper process for TestMDNSDiscoveryNetns")
	}
	var outMu sync.Mutex
	var started time.Time
	emit := func(kind string, id peer.ID, detail string) {
		outMu.Lock()
		defer outMu.Unlock()
		var ms int64
		if !started.IsZero() {
			ms = time.Since(started).Milliseconds()
		}
		fmt.Printf("MDNS %s %s %d %s\n", kind, id, ms, strings.ReplaceAll(detail, "\n", " | "))
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{DataDir: os.Getenv(envMDNSDir), Listen: []string{DefaultListenAddr}, Logger: logger}
	if k := os.Getenv("CONCORD_TEST_MDNS_PSK"); k != "" {
		cfg.PSK = []byte(k)
		cfg.Closed = true
		for _, s := range strings.Split(os.Getenv("CONCORD_TEST_MDNS_ALLOWED"), ",") {
			id, err := peer.Decode(s)
			if err != nil {
				t.Fatalf("allowed %q: %v", s, err)
			}
			cfg.Allowed = append(cfg.Allowed, id)
		}
	}
	hs, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	emit("ID", hs.ID(), strings.Join(hs.Addrs(), ","))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outMu.Lock()
	started = time.Now()
	outMu.Unlock()
	// Like the Node: a found peer's addresses go to AddPeer, whose
	// keep-connected loop dials it. found only records and returns.
	// found may still run while this goroutine stops (until the Host's
	// Close returns), so wg.Add and wg.Wait are kept apart by stopping.
	var wg sync.WaitGroup
	var stopMu sync.Mutex
	stopping := false
	d, err := hs.StartDiscovery(service, func(ai peer.AddrInfo) {
		emit("FOUND", ai.ID, fmt.Sprint(ai.Addrs))
		hs.AddPeer(ai.ID, ai.Addrs)
		stopMu.Lock()
		defer stopMu.Unlock()
		if stopping {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := testutil.Poll(ctx, 30*time.Second, 10*time.Millisecond, func() (bool, string) {
				return hs.IsConnected(ai.ID), ""
			})
			if err != nil {
				emit("CONNECTFAIL", ai.ID, err.Error())
				return
			}
			emit("CONNECTED", ai.ID, "")
		}()
	})
	if err != nil {
		t.Fatalf("StartDiscovery: %v", err)
	}
	if team, name, ok := strings.Cut(os.Getenv(envMDNSHint), "|"); ok {
		if _, err := hs.AnnounceTeam(team, name); err != nil {
			t.Fatalf("AnnounceTeam: %v", err)
		}
	}
	if os.Getenv(envMDNSBrowse) != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := BrowseTeams(ctx, func(teams []TeamHint) {
				var s []string
				for _, t := range teams {
					s = append(s, fmt.Sprintf("%s/%s/%d", t.Name, t.Tag, t.Members))
				}
				emit("TEAMS", hs.ID(), strings.Join(s, ";"))
			})
			if err != nil {
				emit("BROWSEFAIL", hs.ID(), err.Error())
			}
		}()
	}

	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	timer := time.NewTimer(helperLifetime)
	defer timer.Stop()
	select {
	case <-eof:
	case <-timer.C:
		t.Errorf("not stopped by the parent within %v", helperLifetime)
	}
	stopMu.Lock()
	stopping = true
	stopMu.Unlock()
	cancel()
	wg.Wait()
	// The Host's Close alone must stop discovery (it waits for it).
	result := "ok"
	if err := hs.Close(); err != nil {
		result = err.Error()
	} else if left := discoveryGoroutines(5 * time.Second); left != "" {
		result = "discovery goroutines left after Close: " + left
	}
	emit("CLOSED", hs.ID(), result)
	_ = d.Close() // idempotent after the Host's Close
}

// discoveryGoroutines waits up to timeout for every goroutine of the mDNS
// stack (ours, go-libp2p's mdns, zeroconf) to end, and returns the stack of
// one still running, or "".
func discoveryGoroutines(timeout time.Duration) string {
	var left string
	_ = testutil.Poll(context.Background(), timeout, 10*time.Millisecond, func() (bool, string) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		left = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "zeroconf") || strings.Contains(g, "discovery/mdns") ||
				strings.Contains(g, "p2p.(*Discovery)") || strings.Contains(g, "p2p.notifee") {
				left = g
				break
			}
		}
		return left == "", ""
	})
	return strings.ReplaceAll(left, "\n", " | ")
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
