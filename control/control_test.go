package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"concord/control"
	"concord/node"
)

// TestControlAPI serves a real one-member team and calls it through the
// typed client: the paths, status codes and JSON fields the CLI relies on.
func TestControlAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "m")
	cfg := node.Config{Dir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NTP: []string{"127.0.0.1:9"}}
	if _, err := node.Create(ctx, cfg, "api", "ann"); err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	srv, err := control.Listen(n, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	if _, err := control.Listen(n, dir, nil); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("a second server on the same dir: %v, want 'already running'", err)
	}
	c, err := control.NewClient(dir)
	if err != nil {
		t.Fatal(err)
	}

	var sent struct{ ID string }
	if err := c.Call(ctx, http.MethodPost, "/v1/send", control.SendRequest{Text: "hello @ann"}, &sent); err != nil || sent.ID == "" {
		t.Fatalf("send: %v %+v", err, sent)
	}
	var rows strings.Builder
	if err := c.Stream(ctx, &rows, "/v1/history", nil); err != nil {
		t.Fatal(err)
	}
	var row control.HistoryRow
	sc := bufio.NewScanner(strings.NewReader(rows.String()))
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &row) != nil || row.ID != sent.ID || row.AuthorName != "ann" ||
		row.Channel != "general" || len(row.Mentions) != 1 || row.Mentions[0] != n.ID().String() {
		t.Fatalf("history row: %+v from %q", row, rows.String())
	}

	// status --json: the documented keys, nulls where nothing is known.
	var raw map[string]json.RawMessage
	if err := c.Call(ctx, http.MethodGet, "/v1/status", nil, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "team", "team_id", "role", "raft_state", "leader", "voters", "nonvoters", "commit_index",
		"applied_index", "peers", "outbox", "clock", "storage", "disk", "consistency", "release", "team_version", "blocked_on_upgrade"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status has no %q: %s", k, raw)
		}
	}
	var st control.Status
	if err := c.Call(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil || st.Team != "api" || st.RaftState != "leader" || st.Role != "admin" ||
		st.Storage.State != "ok" || st.Storage.Reason != nil || st.Outbox == nil || st.Disk.State == "" {
		t.Fatalf("status: %v %+v", err, st)
	}

	if st.Release == "" || st.TeamVersion < 2 || st.BlockedOnUpgrade != nil || string(raw["blocked_on_upgrade"]) != "null" {
		t.Errorf("status: release %q, team version %d, blocked_on_upgrade %s", st.Release, st.TeamVersion, raw["blocked_on_upgrade"])
	}
	var tv control.TeamVersion
	if err := c.Call(ctx, http.MethodGet, "/v1/team-version", nil, &tv); err != nil || tv.TeamVersion != tv.ProtocolMax || tv.ProtocolMin != 1 {
		t.Errorf("team-version: %v %+v", err, tv)
	}
	if err := c.Call(ctx, http.MethodPost, "/v1/team-version", nil, &tv); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("raising a new team's version: %v, want 'already'", err)
	}

	var members []control.MemberRow
	if err := c.Call(ctx, http.MethodGet, "/v1/members", nil, &members); err != nil || len(members) != 1 ||
		members[0].Name != "ann" || members[0].Role != "admin" || !members[0].Voter || !members[0].Online {
		t.Fatalf("members: %v %+v", err, members)
	}
	var outbox []control.OutboxRow
	if err := c.Call(ctx, http.MethodGet, "/v1/outbox", nil, &outbox); err != nil || len(outbox) != 0 {
		t.Fatalf("outbox: %v %+v", err, outbox)
	}

	// Bad input: a clear error, 400, nothing sent.
	for _, bad := range []struct {
		path string
		body any
		want string
	}{
		{"/v1/send", control.SendRequest{Channel: "nope", Text: "x"}, "invalid request"},
		{"/v1/edit", control.ChatOpRequest{ID: "no-such-message", Text: "x"}, "no message has the ID"},
		{"/v1/send", "not an object", "invalid request"},
		{"/v1/members/role", control.MemberRequest{Member: "ann", Role: "king"}, "a role is"},
		// Over the request limit: the limit in a sentence, not "http:
		// request body too large".
		{"/v1/send", control.SendRequest{Text: strings.Repeat("x", 2<<20)}, "at most 32 KiB (send a longer text as a file"},
	} {
		resp, err := c.Do(ctx, http.MethodPost, bad.path, nil, bad.body)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s %v: succeeded, want %q", bad.path, bad.body, bad.want)
			continue
		}
		var qe *control.QueuedError
		if errors.As(err, &qe) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %v: %v, want %q", bad.path, bad.body, err, bad.want)
		}
	}
	if err := c.Stream(ctx, &rows, "/v1/search", map[string][]string{"q": {"hello"}}); err != nil {
		t.Fatal(err)
	}
}

// TestClientWithoutMember: a dir with no member, and a member not running,
// each get a sentence saying so.
func TestClientWithoutMember(t *testing.T) {
	if _, err := control.NewClient(t.TempDir()); !errors.Is(err, node.ErrNoDataDir) {
		t.Fatalf("client of an empty dir: %v, want ErrNoDataDir", err)
	}
}

// TestShowHook: POST /v1/show reaches the window's hook; a member without
// one (headless) answers 404.
func TestShowHook(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := node.Create(ctx, node.Config{Dir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NTP: []string{"127.0.0.1:9"}}, "show", "ann"); err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, node.Config{Dir: dir, NTP: []string{"127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	srv, err := control.Listen(n, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	c, err := control.NewClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ok struct{ OK bool }
	if err := c.Call(ctx, http.MethodPost, "/v1/show", nil, &ok); err == nil {
		t.Fatal("show without a window: succeeded")
	}
	shown := make(chan struct{}, 1)
	srv.OnShow(func() { shown <- struct{}{} })
	if err := c.Call(ctx, http.MethodPost, "/v1/show", nil, &ok); err != nil || !ok.OK {
		t.Fatalf("show: %v %+v", err, ok)
	}
	select {
	case <-shown:
	default:
		t.Fatal("the hook was not called")
	}
}
