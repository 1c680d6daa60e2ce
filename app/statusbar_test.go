package app

import (
	"strings"
	"testing"
	"time"
)

func TestStatusText(t *testing.T) {
	tests := []struct {
		name    string
		st      Status
		team    string
		teamOK  bool
		clock   string
		clockOK bool
	}{
		{"quorum", Status{Leader: "L", Connected: 2, Total: 4, ClockSource: "ntp", ClockOffset: 12 * time.Millisecond},
			"connected to 2 of 4", true, "clock: ntp +12ms", true},
		{"quorum with queue", Status{Leader: "L", Connected: 4, Total: 4, Queued: 2, ClockSource: "peer", ClockOffset: -300 * time.Millisecond},
			"connected to 4 of 4 · 2 queued", true, "clock: peer -300ms", true},
		{"no quorum", Status{Connected: 0, Total: 4, Queued: 3, ClockSource: "system", ClockOffset: 1500 * time.Millisecond},
			"no quorum: 3 queued", false, "⚠ clock: system +1.5s (system clock is off by more than 1 s)", false},
		{"tiny negative offset", Status{Leader: "L", ClockSource: "peer", ClockOffset: -200 * time.Microsecond},
			"you are the team's only member", true, "clock: peer +0s", true},
		{"big negative offset", Status{Leader: "L", ClockOffset: -2 * time.Second},
			"you are the team's only member", true, "⚠ clock: system -2s (system clock is off by more than 1 s)", false},
		{"cannot store", Status{Leader: "L", Connected: 2, Total: 2, Queued: 1, ClockSource: "ntp",
			Storage: "this member cannot store the team's messages from log entry 9 on: no space left on device"},
			"⚠ this member cannot store the team's messages from log entry 9 on: no space left on device · 1 queued", false, "clock: ntp +0s", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			team, ok := teamText(tc.st)
			if team != tc.team || ok != tc.teamOK {
				t.Errorf("teamText = %q, %v; want %q, %v", team, ok, tc.team, tc.teamOK)
			}
			clock, ok := clockText(tc.st)
			if clock != tc.clock || ok != tc.clockOK {
				t.Errorf("clockText = %q, %v; want %q, %v", clock, ok, tc.clock, tc.clockOK)
			}
		})
	}
}

func TestStatusBarFollowsEvents(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	if got := c.status.team.Text; got != "connected to 1 of 1" {
		t.Fatalf("status %q", got)
	}
	if h.win.Title() != "Concord — Ann's team" {
		t.Errorf("title %q", h.win.Title())
	}
	st := h.fake.status
	st.Leader, st.Connected, st.Total, st.Queued = "", 0, 2, 3
	h.fake.setStatus(st)
	h.push(Event{Kind: EventStatus})
	if got := c.status.team.Text; got != "no quorum: 3 queued" {
		t.Fatalf("status %q", got)
	}
	st.Leader, st.Connected, st.Queued = "12D3KooWbob000", 2, 0
	st.ClockOffset = -1200 * time.Millisecond
	h.fake.setStatus(st)
	h.push(Event{Kind: EventStatus})
	if got := c.status.team.Text; got != "connected to 2 of 2" {
		t.Fatalf("status %q", got)
	}
	if got := c.status.clock.Text; !strings.HasPrefix(got, "⚠") {
		t.Fatalf("clock %q", got)
	}
}
