//go:build !headless

package backend

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"concord/app"
)

// TestGUIBackendMessageActions: the window's edit, react, reply and delete
// go through the team, and each change comes back as an event with the
// message as it is now (the pump follows the store's change feed).
func TestGUIBackendMessageActions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a member")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := newTestBackend(t, filepath.Join(t.TempDir(), "a"))
	if err := a.CreateTeam(ctx, "Ops", "ann"); err != nil {
		t.Fatal(err)
	}
	events, unsub := a.Events()
	defer unsub()
	id, err := a.Send(ctx, "general", "helo")
	if err != nil {
		t.Fatal(err)
	}
	changed := func(what string, ok func(app.Event) bool) {
		t.Helper()
		t.Logf("waiting for the %s", what)
		waitEvent(t, events, app.EventChanged, func(ev app.Event) bool {
			return ev.Message.ID == id && ev.Message.Channel == "general" && ok(ev)
		})
	}
	if err := a.Edit(ctx, id, "hello"); err != nil {
		t.Fatal(err)
	}
	changed("edit", func(ev app.Event) bool { return ev.Message.Text == "hello" && !ev.Message.EditedAt.IsZero() })
	if err := a.React(ctx, id, "👍"); err != nil {
		t.Fatal(err)
	}
	self := a.n.ID().String()
	changed("react", func(ev app.Event) bool { return slices.Equal(ev.Message.Reactions["👍"], []string{self}) })
	if err := a.React(ctx, id, "👍"); err != nil {
		t.Fatal(err)
	}
	changed("unreact", func(ev app.Event) bool { return len(ev.Message.Reactions) == 0 })
	rid, err := a.Reply(ctx, id, "an answer")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, app.EventMessage, func(ev app.Event) bool { return ev.Message.ID == rid && ev.Message.ReplyTo == id })
	if err := a.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	changed("delete", func(ev app.Event) bool { return ev.Message.Deleted && ev.Message.Text == "" })
	if err := a.Edit(ctx, "no-such-id", "x"); err == nil {
		t.Error("edit of an unknown message: want an error")
	}
	if _, err := a.Reply(ctx, "no-such-id", "x"); err == nil {
		t.Error("reply to an unknown message: want an error")
	}
}
