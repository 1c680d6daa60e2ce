package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
)

// discard is a logger for tests that open many damaged stores.
var discard = slog.New(slog.DiscardHandler)

// fillSample applies the same ops as the generator of testdata/schema1.db
// (written by the schema 1 code of ad31a50): two members, one removed, two
// channels, 300 messages, an edit, a reaction and a deletion.
// beforeLast, if given, runs before the last Apply.
func fillSample(t testing.TB, s *Store, messages int, beforeLast ...func()) {
	t.Helper()
	mustApply := func(t testing.TB, s *Store, es ...Entry) {
		t.Helper()
		if _, err := s.Apply(es); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	i := uint64(0)
	next := func() uint64 { i++; return i }
	const ann, bob = "12D3KooWauthor", "12D3KooWbob"
	mustApply(t, s, entry(next(), t0, addMember(ann, "Ann", RoleAdmin)),
		entry(next(), t0, addMember(ann, "Ann", RoleAdmin),
			Op{Kind: OpCreateChannel, Channel: "general", By: ann}, Op{Kind: OpCreateChannel, Channel: "random", By: ann}))
	mustApply(t, s, entry(next(), t0, inviteOp(ann, "inv1", bob, t0.AddDate(1, 0, 0))))
	mustApply(t, s, entry(next(), t0, redeem(ann, "inv1", bob, "Bob")))
	mustApply(t, s, entry(next(), t0, msg("probe", "general", "x")))
	for j := range messages {
		ch := "general"
		if j%3 == 0 {
			ch = "random"
		}
		mustApply(t, s, entry(next(), t0, msg(fmt.Sprintf("m%03d", j), ch, fmt.Sprintf("message %d %s", j, string(make([]byte, j%50))))))
	}
	for _, f := range beforeLast {
		f()
	}
	mustApply(t, s, entry(next(), t0, Op{Kind: OpEdit, ID: "e1", By: ann, Target: "m001", Text: "edited"}),
		entry(next(), t0, Op{Kind: OpReact, ID: "r1", By: bob, Target: "m002", Text: "ok"}),
		entry(next(), t0, Op{Kind: OpDelete, ID: "d1", By: ann, Target: "m004"}),
		entry(next(), t0, Op{Kind: OpRemoveMember, By: ann, Target: bob}))
}

// readAll is everything a reader sees of a sample store, as JSON, or the
// first error a read returned. Its JSON is the same as the schema 1 code's
// dump in testdata/schema1.json.
func readAll(s *Store) ([]byte, error) {
	d := map[string]any{"applied": s.AppliedIndex(), "last_commit": s.LastCommit()}
	chs, err := s.Channels()
	if err != nil {
		return nil, err
	}
	d["channels"] = chs
	hist := map[string][]Message{}
	for _, ch := range chs {
		h, err := s.History(ch.Name, Query{})
		if err != nil {
			return nil, err
		}
		hist[ch.Name] = h
	}
	d["history"] = hist
	if d["members"], err = s.Members(); err != nil {
		return nil, err
	}
	if d["invites"], err = s.Invites(); err != nil {
		return nil, err
	}
	switch d["removal"], err = s.Removal("12D3KooWbob"); {
	case errors.Is(err, ErrNotFound): // before the last batch
		d["removal"] = nil
	case err != nil:
		return nil, err
	}
	changes, complete, err := s.Changes(0, 0)
	if err != nil {
		return nil, err
	}
	d["changes"], d["changes_complete"] = changes, complete
	applied, refusal, err := s.OpResult("e1")
	if err != nil {
		return nil, err
	}
	d["op_e1"] = []any{applied, refusal}
	if d["lookup_m002"], err = s.Lookup("m002"); err != nil {
		return nil, err
	}
	return json.MarshalIndent(d, "", " ")
}

func mustReadAll(t *testing.T, s *Store) []byte {
	t.Helper()
	b, err := readAll(s)
	if err != nil {
		t.Fatalf("reading the store: %v", err)
	}
	return b
}
