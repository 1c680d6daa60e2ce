package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// eventLog is a run's story: every fault and heal with its time, the time
// spent under at least one fault, and when the leader was lost.
type eventLog struct {
	mu          sync.Mutex
	start       time.Time
	lines       []string
	active      int
	activeSince time.Time
	faulted     time.Duration
	leaderLoss  []time.Time
}

func newEventLog() *eventLog { return &eventLog{start: time.Now()} }

func (e *eventLog) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, fmt.Sprintf("%8.3fs %s", time.Since(e.start).Seconds(), fmt.Sprintf(format, args...)))
}

// begin and end bracket one fault; overlapping faults count once.
func (e *eventLog) begin() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active == 0 {
		e.activeSince = time.Now()
	}
	e.active++
}

func (e *eventLog) end() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active == 0 {
		return
	}
	e.active--
	if e.active == 0 {
		e.faulted += time.Since(e.activeSince)
	}
}

// lostLeader records that the fault just put in force took the leader
// away at t (when the docker command returned: the fault is in force).
func (e *eventLog) lostLeader(t time.Time) {
	e.add("that fault took the leader away")
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leaderLoss = append(e.leaderLoss, t)
}

func (e *eventLog) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.lines, "\n")
}

// The faults. Each records itself; heal undoes whatever is still in force.

func (tm *team) kill(m *member) error {
	tm.events.add("SIGKILL %s", m.name)
	if _, err := docker(tm.ctx, "kill", "-s", "KILL", m.container); err != nil {
		return err
	}
	tm.mark(tm.stopped, m, true)
	return nil
}

// start restarts a killed member with its data kept and waits until its
// socket answers.
func (tm *team) start(m *member) error {
	tm.events.add("start %s", m.name)
	if _, err := docker(tm.ctx, "start", m.container); err != nil {
		return err
	}
	tm.mark(tm.stopped, m, false)
	return poll(tm.ctx, 30*time.Second, func() (bool, string) {
		_, err := tm.status(m)
		return err == nil, fmt.Sprint(err)
	})
}

func (tm *team) pause(m *member) error {
	tm.events.add("pause %s", m.name)
	if _, err := docker(tm.ctx, "pause", m.container); err != nil {
		return err
	}
	tm.mark(tm.paused, m, true)
	return nil
}

func (tm *team) unpause(m *member) error {
	tm.events.add("unpause %s", m.name)
	if _, err := docker(tm.ctx, "unpause", m.container); err != nil {
		return err
	}
	tm.mark(tm.paused, m, false)
	return nil
}

// disconnect cuts the member off the team's network (both directions).
func (tm *team) disconnect(m *member) error {
	tm.events.add("disconnect %s", m.name)
	if _, err := docker(tm.ctx, "network", "disconnect", tm.network, m.container); err != nil {
		return err
	}
	tm.mark(tm.cut, m, true)
	return nil
}

// connect puts the member back at its own address.
func (tm *team) connect(m *member) error {
	tm.events.add("connect %s", m.name)
	if _, err := docker(tm.ctx, "network", "connect", "--ip", m.ip, tm.network, m.container); err != nil {
		return err
	}
	tm.mark(tm.cut, m, false)
	return nil
}

// mark records a fault in force (on) or undone, in the fault clock too.
func (tm *team) mark(set map[*member]bool, m *member, on bool) {
	tm.mu.Lock()
	was := set[m]
	set[m] = on
	tm.mu.Unlock()
	switch {
	case on && !was:
		tm.events.begin()
	case !on && was:
		tm.events.end()
	}
}

// consistency has the member compare its state digest with its peers now
// (the concord_chaos build's endpoint) and returns its verdict.
func (tm *team) consistency(m *member) (string, error) {
	var out struct {
		State      string  `json:"state"`
		DivergedAt *uint64 `json:"diverged_at"`
	}
	body, err := tm.chaosPost(m, "/v1/chaos/digest", nil)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("consistency of %s: %w: %q", m.name, err, body)
	}
	if out.DivergedAt != nil {
		return fmt.Sprintf("%s at %d", out.State, *out.DivergedAt), nil
	}
	return out.State, nil
}

// skew sets the member's local clock skew through the concord_chaos build's
// control endpoint.
func (tm *team) skew(m *member, d time.Duration) error {
	tm.events.add("skew %s by %v", m.name, d)
	b, _ := json.Marshal(map[string]int64{"skew_ms": d.Milliseconds()})
	_, err := tm.chaosPost(m, "/v1/chaos/skew", b)
	return err
}

// chaosPost posts body to one of the concord_chaos build's control
// endpoints on the member and returns the answer's body.
func (tm *team) chaosPost(m *member, path string, body []byte) ([]byte, error) {
	sock := filepath.Join(m.dir, "concord.sock")
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(tm.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://concord"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", path, m.name, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", path, m.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s on %s: %s (is the image built with -tags concord_chaos?)", path, m.name, resp.Status)
	}
	return out, nil
}

// heal undoes every fault still in force: unpause, reconnect, restart,
// lift a bridge partition, and every clock back to true time.
func (tm *team) heal() {
	tm.t.Helper()
	tm.mu.Lock()
	var paused, cut, stopped []*member
	for _, m := range tm.members {
		if tm.paused[m] {
			paused = append(paused, m)
		}
		if tm.cut[m] {
			cut = append(cut, m)
		}
		if tm.stopped[m] {
			stopped = append(stopped, m)
		}
	}
	tm.mu.Unlock()
	for _, m := range paused {
		if err := tm.unpause(m); err != nil {
			tm.t.Fatal(err)
		}
	}
	for _, m := range cut {
		if err := tm.connect(m); err != nil {
			tm.t.Fatal(err)
		}
	}
	for _, m := range stopped {
		if err := tm.start(m); err != nil {
			tm.t.Fatal(err)
		}
	}
	if err := tm.unblockAll(); err != nil {
		tm.t.Fatal(err)
	}
	for _, m := range tm.members {
		if err := tm.skew(m, 0); err != nil {
			tm.t.Fatal(err)
		}
	}
	tm.events.add("healed")
}
