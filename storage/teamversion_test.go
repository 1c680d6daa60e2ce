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
