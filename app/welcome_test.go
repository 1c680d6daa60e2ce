package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

func TestWelcomeCreateTeam(t *testing.T) {
	h := newHarness(t)
	h.ui.ShowWelcome()
	w := h.ui.welcome
	if h.win.Canvas().Focused() != w.teamName {
		t.Error("team name entry should have focus")
	}
	test.Type(w.teamName, "Ann's team")
	test.Type(w.createName, "ann")
	test.Tap(w.create)
	h.settle()
	if h.fake.created.team != "Ann's team" || h.fake.created.name != "ann" {
		t.Fatalf("CreateTeam got %+v", h.fake.created)
	}
	if h.ui.chat == nil || h.win.Content() != h.ui.chat.content {
		t.Fatal("chat not shown after creating a team")
	}
	if h.ui.chat.current != "general" {
		t.Errorf("opened %q, want general", h.ui.chat.current)
	}
}

func TestWelcomeJoin(t *testing.T) {
	tests := []struct {
		name, code, user string
		wantErr          string // "" means the chat opens
	}{
		{name: "good code", code: "good-code", user: "bob"},
		{name: "bad code", code: "not-a-code", user: "bob", wantErr: "That invite code is not valid"},
		{name: "no name", code: "good-code", wantErr: "Paste an invite code and enter your name."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ui.ShowWelcome()
			w := h.ui.welcome
			test.Type(w.code, tc.code)
			test.Type(w.joinName, tc.user)
			test.Tap(w.join)
			h.settle()
			if tc.wantErr == "" {
				if h.fake.joined.code != tc.code || h.fake.joined.name != tc.user {
					t.Fatalf("JoinTeam got %+v", h.fake.joined)
				}
				if h.ui.chat == nil || h.win.Content() != h.ui.chat.content {
					t.Fatal("chat not shown after joining")
				}
				return
			}
			if !w.errLabel.Visible() || !strings.HasPrefix(w.errLabel.Text, tc.wantErr) {
				t.Fatalf("error label %q (visible %v), want prefix %q", w.errLabel.Text, w.errLabel.Visible(), tc.wantErr)
			}
			if strings.Contains(w.errLabel.Text, "\n") {
				t.Error("error label should be one line")
			}
			if h.win.Content() != w.content {
				t.Error("welcome screen should stay")
			}
			if w.join.Disabled() || w.create.Disabled() {
				t.Error("buttons should be enabled again")
			}
		})
	}
}

func TestWelcomeCreateNeedsNames(t *testing.T) {
	h := newHarness(t)
	h.ui.ShowWelcome()
	test.Tap(h.ui.welcome.create)
	h.settle()
	if got := h.ui.welcome.errLabel.Text; got != "Enter a team name and your name." {
		t.Fatalf("error %q", got)
	}
	if h.fake.created.team != "" {
		t.Error("CreateTeam called without names")
	}
}

// TestWelcomeListsLANTeams: teams seen on the LAN are shown under the join
// form, and browsing stops once a team is joined.
func TestWelcomeListsLANTeams(t *testing.T) {
	h := newHarness(t)
	h.fake.lanTeams = []LANTeam{{Name: "Acme", Members: 2}, {Name: "Beta", Members: 1}}
	h.fake.browsing = make(chan struct{})
	h.ui.ShowWelcome()
	w := h.ui.welcome
	if w.teams.Visible() {
		t.Fatal("team hint shown before any team was seen")
	}
	h.waitUI()
	want := "On this network: Acme (2 members online), Beta (1 member online). Ask one of their members for an invite code."
	if !w.teams.Visible() || w.teams.Text != want {
		t.Fatalf("team hint %q (visible %v), want %q", w.teams.Text, w.teams.Visible(), want)
	}
	test.Type(w.code, "good-code")
	test.Type(w.joinName, "bob")
	test.Tap(w.join)
	h.settle()
	select {
	case <-h.fake.browsing:
	case <-time.After(5 * time.Second):
		t.Fatal("still browsing for teams after joining one")
	}
}

// TestWelcomePrefillsName: `concord run --name ann` (make run NAME=ann)
// fills both name fields; creating then needs only the team's name.
func TestWelcomePrefillsName(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Name = "ann" })
	h.ui.ShowWelcome()
	w := h.ui.welcome
	if w.createName.Text != "ann" || w.joinName.Text != "ann" {
		t.Fatalf("name fields %q and %q, want ann", w.createName.Text, w.joinName.Text)
	}
	test.Type(w.teamName, "Ops")
	test.Tap(w.create)
	h.settle()
	if h.fake.created.team != "Ops" || h.fake.created.name != "ann" {
		t.Fatalf("CreateTeam got %+v", h.fake.created)
	}
}
