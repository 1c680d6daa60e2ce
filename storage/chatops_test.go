package storage

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEditDeleteReact(t *testing.T) {
	const author = "12D3KooWauthor" // msg()'s author
	s := mustOpen(t)
	exp := t0.Add(time.Hour)
	mustApply(t, s,
		entry(1, t0, mkChan("general"), addMember("adm", "ann", RoleAdmin)),
		entry(2, t0, inviteOp("adm", "i1", "k1", exp), inviteOp("adm", "i2", "k2", exp)),
		entry(3, t0, redeem("adm", "i1", author, "max"), redeem("adm", "i2", "other", "oli")),
		entry(4, t0, msg("m1", "general", "hello"), msg("m2", "general", "second")),
	)
	edited := t0.Add(time.Minute)
	cases := []struct {
		name string
		op   Op
		err  string
	}{
		{"author edits", Op{Kind: OpEdit, By: author, Target: "m1", Text: "hello, world"}, ""},
		{"someone else edits", Op{Kind: OpEdit, By: "other", Target: "m1", Text: "x"}, refNotAuthor},
		{"admin edits", Op{Kind: OpEdit, By: "adm", Target: "m1", Text: "x"}, refNotAuthor},
		{"edit to empty", Op{Kind: OpEdit, By: author, Target: "m1", Text: ""}, "empty text"},
		{"edit unknown", Op{Kind: OpEdit, By: author, Target: "zz", Text: "x"}, refNoSuchMessage},
		{"react", Op{Kind: OpReact, By: "other", Target: "m1", Text: "👍"}, ""},
		{"react twice", Op{Kind: OpReact, By: "other", Target: "m1", Text: "👍"}, ""},
		{"react with spaces", Op{Kind: OpReact, By: "other", Target: "m1", Text: "a b"}, refBadEmoji},
		{"outsider reacts", Op{Kind: OpReact, By: "nobody", Target: "m1", Text: "👍"}, refNotMember},
		{"other deletes", Op{Kind: OpDelete, By: "other", Target: "m2"}, refNotYours},
		{"admin deletes", Op{Kind: OpDelete, By: "adm", Target: "m2"}, ""},
		{"edit deleted", Op{Kind: OpEdit, By: author, Target: "m2", Text: "x"}, refIsDeleted},
		{"react to deleted", Op{Kind: OpReact, By: "other", Target: "m2", Text: "👍"}, refIsDeleted},
	}
	for i, tc := range cases {
		res := mustApply(t, s, entry(uint64(5+i), edited, tc.op))
		if got := res[0][0].Err; tc.err == "" && got != "" || tc.err != "" && !strings.Contains(got, tc.err) {
			t.Fatalf("%s: result %q, want %q", tc.name, got, tc.err)
		}
	}
	m1, err := s.Lookup("m1")
	if err != nil {
		t.Fatal(err)
	}
	if m1.Text != "hello, world" || !m1.EditedAt.Equal(edited) || m1.Seq != 1 {
		t.Fatalf("m1 after edit = %+v", m1)
	}
	if want := map[string][]string{"👍": {"other"}}; !reflect.DeepEqual(m1.Reactions, want) {
		t.Fatalf("reactions = %v, want %v", m1.Reactions, want)
	}
	mustApply(t, s, entry(100, edited, Op{Kind: OpReact, By: "other", Target: "m1", Text: "👍", Remove: true}))
	h := mustHistory(t, s, "general")
	if len(h) != 2 || h[0].Reactions != nil || !h[1].Deleted || h[1].Text != "" || h[1].Seq != 2 {
		t.Fatalf("history after unreact and delete: %+v", h)
	}
}

func TestReplyKeptEvenWithoutParent(t *testing.T) {
	s := mustOpen(t)
	r := msg("r1", "general", "answer")
	r.Message.ReplyTo = "unknown-parent"
	mustApply(t, s, entry(1, t0, mkChan("general"), msg("p1", "general", "question")), entry(2, t0, r))
	h := mustHistory(t, s, "general")
	if len(h) != 2 || h[1].ReplyTo != "unknown-parent" {
		t.Fatalf("reply not stored with its parent link: %+v", h)
	}
}
