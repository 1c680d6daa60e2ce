//go:build !headless

package backend

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"concord/app"
	"concord/node"
	"concord/storage"
)

const loopback = "/ip4/127.0.0.1/tcp/0"

// noNTP is an NTP server nobody answers on: members use the system clock.
var noNTP = []string{"127.0.0.1:9"}

func newTestBackend(t *testing.T, dir string) *Backend {
	b := New(Config{Dir: dir, Listen: []string{loopback}, NTP: noNTP})
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close %s: %v", dir, err)
		}
	})
	return b
}

// waitEvent waits for an event of kind that satisfies ok.
func waitEvent(t *testing.T, ch <-chan app.Event, kind app.EventKind, ok func(app.Event) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("events closed while waiting for kind %d", kind)
			}
			if ev.Kind == kind && (ok == nil || ok(ev)) {
				return
			}
		case <-timeout:
			t.Fatalf("no event of kind %d within 10s", kind)
		}
	}
}

// TestGUIBackend drives the Backend the window uses over real members:
// create a team, send, page history, events, join (bad and good codes).
func TestGUIBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts members")
	}
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	a := newTestBackend(t, filepath.Join(root, "a"))
	if _, err := a.Send(ctx, "general", "too early"); err == nil {
		t.Fatal("Send before a team exists: want an error")
	}
	events, unsub := a.Events()
	defer unsub()
	if err := a.CreateTeam(ctx, "Ops", "ann"); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateTeam(ctx, "Ops", "ann"); err == nil {
		t.Error("second CreateTeam on the same dir: want an error")
	}
	id, err := a.Send(ctx, "general", "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, app.EventMessage, func(ev app.Event) bool { return ev.Message.ID == id })
	waitEvent(t, events, app.EventStatus, nil)
	if err := a.CreateChannel(ctx, "random"); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateChannel(ctx, "random"); err != nil {
		t.Errorf("CreateChannel of an existing channel: %v", err)
	}
	waitEvent(t, events, app.EventChannels, nil)
	for i := range 5 {
		if _, err := a.Send(ctx, "random", string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	page, err := a.History(ctx, "random", 0, 2)
	if err != nil || len(page) != 2 || page[0].Text != "d" || page[1].Text != "e" {
		t.Fatalf("newest page: %v %+v", err, page)
	}
	older, err := a.History(ctx, "random", page[0].Seq, 2)
	if err != nil || len(older) != 2 || older[0].Text != "b" || older[1].Text != "c" {
		t.Fatalf("older page: %v %+v", err, older)
	}
	// Retry goes to the member (a failed message resent: node's
	// TestRetryResendsAFailedMessage).
	if err := a.Retry(ctx, "no-such-id"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Retry of an unknown ID: %v, want ErrNotFound", err)
	}
	// Settings: the name is committed to the team, both go to config.json.
	set, err := a.Settings(ctx)
	if err != nil || set.Name != "ann" || !filepath.IsAbs(set.DataDir) || len(set.NTP) != 1 {
		t.Fatalf("settings: %v %+v", err, set)
	}
	for _, bad := range []app.Settings{{Name: ""}, {Name: "ann", NTP: []string{"host:x"}}, {Name: "ann", NTP: []string{"a b"}}} {
		if err := a.SaveSettings(ctx, bad); err == nil {
			t.Errorf("SaveSettings(%+v): want an error", bad)
		}
	}
	if err := a.SaveSettings(ctx, app.Settings{Name: "annie", NTP: []string{"127.0.0.1:1234", "[::1]:123", "pool.example"}}); err != nil {
		t.Fatal(err)
	}
	if conf, err := node.LoadConfig(a.dir); err != nil || conf.Name != "annie" || len(conf.NTP) != 3 {
		t.Fatalf("config after SaveSettings: %v %+v", err, conf)
	}
	n, err := a.node()
	if err != nil {
		t.Fatal(err)
	}
	if n.Name() != "annie" {
		t.Fatalf("member record after rename: %q", n.Name())
	}
	if err := a.SaveSettings(ctx, app.Settings{Name: "ann", NTP: noNTP}); err != nil {
		t.Fatal(err)
	}
	st, err := a.Status(ctx)
	if err != nil || st.Team != "Ops" || st.Role != "leader" || st.Total != 0 {
		t.Fatalf("status: %v %+v", err, st)
	}

	b := newTestBackend(t, filepath.Join(root, "b"))
	if err := b.JoinTeam(ctx, "concord1-garbage", "bob"); !errors.Is(err, app.ErrBadInvite) {
		t.Fatalf("JoinTeam with a bad code: %v, want ErrBadInvite", err)
	}
	code, err := a.Invite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.JoinTeam(ctx, code, "bob"); err != nil {
		t.Fatal(err)
	}
	hist, err := b.History(ctx, "general", 0, 0)
	if err != nil || len(hist) != 1 || hist[0].ID != id {
		t.Fatalf("history on the new member: %v %+v", err, hist)
	}
	members, err := b.Members(ctx)
	if err != nil || len(members) != 2 {
		t.Fatalf("members: %v %+v", err, members)
	}
	for _, m := range members {
		isA := m.ID == n.ID().String()
		if m.Leader != isA || (isA && (!m.Voter || m.Role != storage.RoleAdmin)) || (!isA && (m.Name != "bob" || !m.Online)) {
			t.Errorf("member as bob sees it: %+v", m)
		}
	}
	bob, unsubB := b.Events()
	id2, err := a.Send(ctx, "general", "welcome bob")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, bob, app.EventMessage, func(ev app.Event) bool { return ev.Message.ID == id2 })
	unsubB()
	unsubB() // idempotent

	// An admin removes bob: he is gone from the list.
	bn, err := b.node()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveMember(ctx, bn.ID().String()); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if ms, err := a.Members(ctx); err != nil || len(ms) != 1 || ms[0].ID != n.ID().String() {
		t.Fatalf("members after removing bob: %v %+v", err, ms)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for range events {
		// drained: Close closes every subscriber's channel
	}
}
