package storage

import (
	"bytes"
	"testing"
	"time"
)

func TestChangeFeed(t *testing.T) {
	const author = "12D3KooWauthor" // msg()'s author
	s := mustOpen(t)
	mustApply(t, s,
		entry(1, t0, mkChan("general"), mkChan("random"), addMember("adm", "ann", RoleAdmin)),
		entry(2, t0, inviteOp("adm", "i1", "k1", t0.Add(time.Hour))),
		entry(3, t0, redeem("adm", "i1", author, "max")),
		entry(4, t0, msg("m1", "general", "hello"), msg("m2", "random", "second")),
	)
	if n, err := s.LastChange(); err != nil || n != 0 {
		t.Fatalf("LastChange before any change = %d, %v", n, err)
	}
	mustApply(t, s, entry(5, t0,
		Op{Kind: OpEdit, By: author, Target: "m1", Text: "hello again"},
		Op{Kind: OpEdit, By: "adm", Target: "m1", Text: "refused"}, // not the author: no change
		Op{Kind: OpReact, By: "adm", Target: "m2", Text: "👍"},
		Op{Kind: OpDelete, By: "adm", Target: "m1"},
		msg("m3", "general", "a new message is not a change"),
	))
	got, complete, err := s.Changes(0, 0)
	if err != nil || !complete {
		t.Fatalf("Changes(0) complete=%v err=%v", complete, err)
	}
	want := []Change{{1, "general", 1, "m1"}, {2, "random", 1, "m2"}, {3, "general", 1, "m1"}}
	if len(got) != len(want) {
		t.Fatalf("changes = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, complete, _ := s.Changes(2, 0); !complete || len(got) != 1 || got[0].N != 3 {
		t.Fatalf("Changes(2) = %+v complete=%v", got, complete)
	}
	if got, complete, _ := s.Changes(3, 0); !complete || len(got) != 0 {
		t.Fatalf("Changes(3) = %+v complete=%v, want none, complete", got, complete)
	}
	if got, _, _ := s.Changes(0, 2); len(got) != 2 {
		t.Fatalf("Changes(0, 2) returned %d", len(got))
	}

	// The feed travels in snapshots, so a member restored from one numbers
	// later changes like the others.
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	r := mustOpen(t)
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if n, err := r.LastChange(); err != nil || n != 3 {
		t.Fatalf("restored LastChange = %d, %v, want 3", n, err)
	}
}

func TestChangeFeedIsBounded(t *testing.T) {
	s := mustOpen(t)
	mustApply(t, s,
		entry(1, t0, mkChan("general"), addMember("adm", "ann", RoleAdmin)),
		entry(2, t0, msg("m1", "general", "hello")),
	)
	ops := make([]Op, maxChanges+5)
	for i := range ops {
		ops[i] = Op{Kind: OpReact, By: "adm", Target: "m1", Text: "👍", Remove: i%2 == 1}
	}
	mustApply(t, s, entry(3, t0, ops...))
	last, err := s.LastChange()
	if err != nil || last != maxChanges+5 {
		t.Fatalf("LastChange = %d, %v", last, err)
	}
	got, complete, err := s.Changes(0, 0)
	if err != nil || complete {
		t.Fatalf("a reader at 0 missed 5 dropped changes: complete=%v err=%v", complete, err)
	}
	if len(got) != maxChanges || got[0].N != 6 {
		t.Fatalf("kept %d changes from %d, want %d from 6", len(got), got[0].N, maxChanges)
	}
	if _, complete, _ := s.Changes(5, 1); !complete {
		t.Fatal("a reader at 5 missed nothing")
	}
}
