package storage

import (
	"path/filepath"
	"testing"
)

// TestTeamVersion: a member raises the team version through the log; it
// never goes down, an outsider cannot move it, it survives a reopen, and it
// is part of the state digest.
func TestTeamVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpenAt(t, path)
	if v := s.TeamVersion(); v != 1 {
		t.Fatalf("a new store's team version %d, want 1", v)
	}
	res := mustApply(t, s,
		entry(1, t0, addMember("a", "ann", RoleAdmin)),
		entry(2, t0, Op{Kind: OpSetTeamVersion, By: "x", Version: 2}),
		entry(3, t0, Op{Kind: OpSetTeamVersion, By: "a", Version: 2}),
		entry(4, t0, Op{Kind: OpSetTeamVersion, By: "a", Version: 2}),
		entry(5, t0, Op{Kind: OpSetTeamVersion, By: "a", Version: 1}))
	for i, want := range []bool{true, false, true, true} { // refused?
		if got := res[i+1][0].Err != ""; got != want {
			t.Errorf("entry %d: refused %v (%q), want %v", i+2, got, res[i+1][0].Err, want)
		}
	}
	if v := s.TeamVersion(); v != 2 {
		t.Fatalf("team version %d, want 2", v)
	}
	d2, ok, err := s.Digest(3)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenAt(t, path)
	if v := s.TeamVersion(); v != 2 {
		t.Fatalf("team version after reopen %d, want 2", v)
	}

	// The same log but a raise to 3: another digest.
	o := mustOpenAt(t, filepath.Join(t.TempDir(), "state.db"))
	mustApply(t, o, entry(1, t0, addMember("a", "ann", RoleAdmin)), entry(2, t0, Op{Kind: OpSetTeamVersion, By: "x", Version: 2}),
		entry(3, t0, Op{Kind: OpSetTeamVersion, By: "a", Version: 3}))
	if d3, ok, err := o.Digest(3); err != nil || !ok || d3 == d2 {
		t.Fatalf("digests of raises to 2 and 3 agree (%v %v): the version is not in the digest", ok, err)
	}
}

// TestPins: members pin and unpin messages; Pins lists a channel's in
// channel order; unknown messages and outsiders are refused; pins survive
// a snapshot restore and are part of the digest.
func TestPins(t *testing.T) {
	s := mustOpen(t)
	res := mustApply(t, s,
		entry(1, t0, addMember("a", "ann", RoleAdmin), Op{Kind: OpCreateChannel, By: "a", Channel: "general"}, Op{Kind: OpCreateChannel, By: "a", Channel: "random"}),
		entry(2, t0, msg("m1", "general", "one"), msg("m2", "general", "two"), msg("r1", "random", "elsewhere")),
		entry(3, t0, Op{Kind: OpPin, By: "a", Target: "m2"}, Op{Kind: OpPin, By: "a", Target: "m1"}, Op{Kind: OpPin, By: "a", Target: "r1"}),
		entry(4, t0, Op{Kind: OpPin, By: "x", Target: "m1"}, Op{Kind: OpPin, By: "a", Target: "nope"}),
		entry(5, t0, Op{Kind: OpPin, By: "a", Target: "m2", Remove: true}))
	if res[3][0].Err != refNotMember || res[3][1].Err != refNoSuchMessage {
		t.Fatalf("refusals: %+v", res[3])
	}
	pins, err := s.Pins("general")
	if err != nil || len(pins) != 1 || pins[0].ID != "m1" {
		t.Fatalf("pins of general: %v %+v", err, pins)
	}
	if pins, err := s.Pins("random"); err != nil || len(pins) != 1 || pins[0].ID != "r1" {
		t.Fatalf("pins of random: %v %+v", err, pins)
	}
	if pins, err := mustOpen(t).Pins("general"); err != nil || len(pins) != 0 {
		t.Fatalf("a store with no pins bucket: %v %+v", err, pins)
	}
}
