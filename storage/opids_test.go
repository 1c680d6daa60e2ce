package storage

import (
	"testing"
	"time"
)

// TestOpIDAppliesOnce: an edit or reaction proposed again (the drainer's
// retry after "unknown") applies once, even when the stale copy lands
// after a later op of the same author, and keeps its first outcome.
func TestOpIDAppliesOnce(t *testing.T) {
	const author = "12D3KooWauthor"
	s := mustOpen(t)
	exp := t0.Add(time.Hour)
	mustApply(t, s,
		entry(1, t0, mkChan("general"), addMember("adm", "ann", RoleAdmin)),
		entry(2, t0, inviteOp("adm", "i1", "k1", exp)),
		entry(3, t0, redeem("adm", "i1", author, "max")),
		entry(4, t0, msg("m1", "general", "hello")),
	)
	edit := func(id, text string) Op {
		return Op{Kind: OpEdit, ID: id, By: author, Target: "m1", Text: text}
	}
	react := func(id string, remove bool) Op {
		return Op{Kind: OpReact, ID: id, By: author, Target: "m1", Text: "👍", Remove: remove}
	}
	steps := []struct {
		name string
		op   Op
		dup  bool
		err  string
	}{
		{"first edit", edit("e1", "one"), false, ""},
		{"second edit", edit("e2", "two"), false, ""},
		{"stale first edit", edit("e1", "one"), true, ""},
		{"react on", react("r1", false), false, ""},
		{"react off", react("r2", true), false, ""},
		{"stale react on", react("r1", false), true, ""},
		{"refused edit", Op{Kind: OpEdit, ID: "x1", By: "adm", Target: "m1", Text: "no"}, false, refNotAuthor},
		{"refused edit again", Op{Kind: OpEdit, ID: "x1", By: "adm", Target: "m1", Text: "no"}, true, refNotAuthor},
		{"too long an ID", Op{Kind: OpDelete, ID: string(make([]byte, MaxIDBytes+1)), By: author, Target: "m1"}, false, refBadOpID},
	}
	for i, st := range steps {
		r := mustApply(t, s, entry(uint64(5+i), t0.Add(time.Duration(i+1)*time.Second), st.op))[0][0]
		if r.Dup != st.dup || r.Err != st.err {
			t.Fatalf("%s: result %+v, want dup %v err %q", st.name, r, st.dup, st.err)
		}
	}
	m, err := s.Lookup("m1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "two" || m.Reactions != nil {
		t.Fatalf("m1 = %q reactions %v, want the second edit and no reaction", m.Text, m.Reactions)
	}
	for _, c := range []struct {
		id      string
		applied bool
		refusal string
	}{{"e1", true, ""}, {"r2", true, ""}, {"x1", true, refNotAuthor}, {"nope", false, ""}} {
		applied, refusal, err := s.OpResult(c.id)
		if err != nil || applied != c.applied || refusal != c.refusal {
			t.Fatalf("OpResult(%q) = %v %q %v, want %v %q", c.id, applied, refusal, err, c.applied, c.refusal)
		}
	}
}

// TestOutboxCarriesActions: an edit, deletion or reaction queued in the
// outbox reads back with its action, and a bad action is refused at Put.
func TestOutboxCarriesActions(t *testing.T) {
	o := mustOpenOutbox(t, t.TempDir()+"/outbox.db", 0)
	envs := []Envelope{
		{ID: "a1", Author: "me", Channel: "general", Text: "new text", SentAt: t0, Action: &Action{Kind: OpEdit, Target: "m1"}},
		{ID: "a2", Author: "me", Channel: "general", SentAt: t0, Action: &Action{Kind: OpDelete, Target: "m1"}},
		{ID: "a3", Author: "me", Channel: "general", Text: "👍", SentAt: t0, Action: &Action{Kind: OpReact, Target: "m1", Remove: true}},
	}
	for _, e := range envs {
		if _, err := o.Put(e, t0); err != nil {
			t.Fatalf("Put(%s): %v", e.ID, err)
		}
	}
	o = reopenOutbox(t, o, 0)
	got, err := o.Pending(0)
	if err != nil || len(got) != len(envs) {
		t.Fatalf("Pending = %d entries, %v", len(got), err)
	}
	for i, e := range got {
		if a, w := e.Envelope.Action, envs[i].Action; a == nil || *a != *w || e.Envelope.Text != envs[i].Text {
			t.Fatalf("entry %d: action %+v text %q, want %+v %q", i, a, e.Envelope.Text, w, envs[i].Text)
		}
		op := e.Envelope.Op()
		if op.ID != envs[i].ID || op.Kind != envs[i].Action.Kind || op.By != "me" || op.Target != "m1" {
			t.Fatalf("entry %d proposes %+v", i, op)
		}
	}
	bad := []Envelope{
		{ID: "b1", Author: "me", Channel: "general", Text: "x", SentAt: t0, Action: &Action{Kind: OpDelete, Target: "m1"}},
		{ID: "b2", Author: "me", Channel: "general", Text: "a b", SentAt: t0, Action: &Action{Kind: OpReact, Target: "m1"}},
		{ID: "b3", Author: "me", Channel: "general", Text: "x", SentAt: t0, Action: &Action{Kind: OpMessage, Target: "m1"}},
		{ID: "b4", Author: "me", Channel: "general", Text: "x", SentAt: t0, Action: &Action{Kind: OpEdit}},
		{ID: "b5", Author: "me", Channel: "general", Text: "x", SentAt: t0, Action: &Action{Kind: OpEdit, Target: "m1", Remove: true}},
	}
	for _, e := range bad {
		if _, err := o.Put(e, t0); err == nil {
			t.Fatalf("Put(%s) with action %+v succeeded", e.ID, e.Action)
		}
	}
}

// TestOutboxRecordV3 reads a record written before actions existed.
func TestOutboxRecordV3(t *testing.T) {
	want := OutboxEntry{Envelope: outEnv("old"), State: OutboxQueued, QueuedAt: t0}
	want.Envelope.ReplyTo = "parent"
	b := appendOutboxEnvelope(appendOutboxHeader(nil, &want), &want.Envelope)
	b = b[:len(b)-1] // drop the action flag
	b[0] = outboxRecordV3
	got, err := decodeOutboxRecord(0, b)
	if err != nil || !sameEntry(got, want) || got.Envelope.Action != nil {
		t.Fatalf("version 3 record: %+v, %v", got, err)
	}
}
