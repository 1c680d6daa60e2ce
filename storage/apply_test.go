package storage

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestApplyHistoryAcrossChannels(t *testing.T) {
	s := mustOpen(t)
	res := mustApply(t, s,
		entry(1, t0, mkChan("general"), mkChan("random")),
		entry(2, t0.Add(time.Second), msg("a", "general", "hi"), msg("b", "random", "yo")),
		entry(3, t0.Add(2*time.Second), msg("c", "general", "how are you")),
		entry(4, t0.Add(3*time.Second), msg("d", "random", "fine"), msg("e", "general", "good")),
	)
	wantSeqs := [][]uint64{{0, 0}, {1, 1}, {2}, {2, 3}}
	for i, r := range res {
		for j, want := range wantSeqs[i] {
			if r[j].Err != "" || r[j].Dup || r[j].Seq != want {
				t.Errorf("entry %d op %d: result %+v, want seq %d", i+1, j, r[j], want)
			}
		}
	}

	tests := []struct {
		channel string
		ids     []string
	}{
		{"general", []string{"a", "c", "e"}},
		{"random", []string{"b", "d"}},
	}
	for _, tc := range tests {
		t.Run(tc.channel, func(t *testing.T) {
			h := mustHistory(t, s, tc.channel)
			if got := ids(h); !slices.Equal(got, tc.ids) {
				t.Fatalf("ids = %v, want %v", got, tc.ids)
			}
			for i, m := range h {
				if m.Seq != uint64(i+1) || m.Channel != tc.channel || m.Index == 0 {
					t.Errorf("message %d = %+v", i, m)
				}
			}
			ch, err := s.Channel(tc.channel)
			if err != nil || ch.Messages != uint64(len(tc.ids)) {
				t.Errorf("Channel = %+v, %v; want %d messages", ch, err, len(tc.ids))
			}
			var streamed []string
			err = s.EachMessage(tc.channel, func(m Message) error {
				streamed = append(streamed, m.ID)
				return nil
			})
			if err != nil || !slices.Equal(streamed, tc.ids) {
				t.Errorf("EachMessage = %v, %v; want %v", streamed, err, tc.ids)
			}
		})
	}

	chans, err := s.Channels()
	if err != nil {
		t.Fatal(err)
	}
	if len(chans) != 2 || chans[0].Name != "general" || chans[1].Name != "random" {
		t.Fatalf("Channels = %+v", chans)
	}
	m, err := s.Lookup("d")
	if err != nil || m.Channel != "random" || m.Seq != 2 || m.Index != 4 || m.Text != "fine" {
		t.Fatalf("Lookup(d) = %+v, %v", m, err)
	}
	if _, err := s.Lookup("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup(nope) err = %v, want ErrNotFound", err)
	}
	if s.AppliedIndex() != 4 {
		t.Fatalf("AppliedIndex = %d, want 4", s.AppliedIndex())
	}
}

func TestApplyDedup(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]Entry
	}{
		{"same entry", [][]Entry{{entry(2, t0, msg("x", "general", "one"), msg("x", "general", "two"))}}},
		{"same batch", [][]Entry{{entry(2, t0, msg("x", "general", "one")), entry(3, t0, msg("x", "general", "two"))}}},
		{"later batch", [][]Entry{{entry(2, t0, msg("x", "general", "one"))}, {entry(3, t0, msg("x", "general", "two"))}}},
		{"other channel", [][]Entry{{entry(2, t0, msg("x", "general", "one"), msg("x", "random", "two"))}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t)
			mustApply(t, s, entry(1, t0, mkChan("general"), mkChan("random")))
			var all []Result
			for _, b := range tc.batches {
				for _, r := range mustApply(t, s, b...) {
					all = append(all, r...)
				}
			}
			if len(all) != 2 {
				t.Fatalf("got %d results, want 2", len(all))
			}
			first, dup := all[0], all[1]
			if first.Dup || first.Seq != 1 || first.Err != "" {
				t.Fatalf("first = %+v", first)
			}
			want := Result{Dup: true, Seq: 1, Channel: "general", CommittedAt: first.CommittedAt}
			if dup != want {
				t.Fatalf("dup = %+v, want %+v", dup, want)
			}
			h := mustHistory(t, s, "general")
			if len(h) != 1 || h[0].Text != "one" {
				t.Fatalf("history = %+v, want just %q", h, "one")
			}
			if h := mustHistory(t, s, "random"); len(h) != 0 {
				t.Fatalf("random history = %+v, want empty", h)
			}
		})
	}
}

func TestApplyReplay(t *testing.T) {
	path := t.TempDir() + "/state.db"
	entries := []Entry{entry(1, t0, mkChan("general"))}
	for i := uint64(2); i <= 7; i++ {
		entries = append(entries, entry(i, t0.Add(time.Duration(i)*time.Second),
			msg("m"+string(rune('0'+i)), "general", "text")))
	}

	s, err := Open(testConfig(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(entries[:5]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpenAt(t, path)
	if s.AppliedIndex() != 5 {
		t.Fatalf("AppliedIndex after reopen = %d, want 5", s.AppliedIndex())
	}
	lastBefore := s.LastCommit()
	res := mustApply(t, s, entries...)
	for i, r := range res {
		applied := entries[i].Index > 5
		if (r != nil) != applied {
			t.Errorf("entry %d: result %v, want applied=%v", entries[i].Index, r, applied)
		}
		if applied && (r[0].Dup || r[0].Err != "" || r[0].Seq != entries[i].Index-1) {
			t.Errorf("entry %d: result %+v", entries[i].Index, r[0])
		}
	}
	h := mustHistory(t, s, "general")
	if want := []uint64{1, 2, 3, 4, 5, 6}; !slices.Equal(seqs(h), want) {
		t.Fatalf("seqs = %v, want %v", seqs(h), want)
	}
	if !h[4].CommittedAt.After(lastBefore) {
		t.Fatalf("message 5 committed at %v, not after %v", h[4].CommittedAt, lastBefore)
	}
	if s.AppliedIndex() != 7 {
		t.Fatalf("AppliedIndex = %d, want 7", s.AppliedIndex())
	}
	// A pure replay changes nothing and reports nothing.
	res = mustApply(t, s, entries...)
	for i, r := range res {
		if r != nil {
			t.Errorf("second replay entry %d: %v, want nil", i+1, r)
		}
	}
}

func TestApplyCommitTimesStrictlyIncreasing(t *testing.T) {
	s := mustOpen(t)
	stamps := []time.Time{
		t0, t0, t0.Add(-time.Hour), t0.Add(time.Nanosecond), {}, t0.Add(time.Second), t0.Add(time.Second),
	}
	entries := []Entry{entry(1, t0.Add(-time.Hour), mkChan("a"), mkChan("b"))}
	for i, at := range stamps {
		ch := []string{"a", "b"}[i%2]
		entries = append(entries, entry(uint64(i+2), at, msg("id"+ch+string(rune('a'+i)), ch, "x"), msg("id2"+string(rune('a'+i)), ch, "y")))
	}
	mustApply(t, s, entries[:3]...)
	mustApply(t, s, entries[3:]...)

	var all []Message
	for _, ch := range []string{"a", "b"} {
		all = append(all, mustHistory(t, s, ch)...)
	}
	slices.SortFunc(all, func(x, y Message) int { return x.CommittedAt.Compare(y.CommittedAt) })
	chA, _ := s.Channel("a")
	chB, _ := s.Channel("b")
	prev := chB.CreatedAt
	if !chB.CreatedAt.After(chA.CreatedAt) {
		t.Fatalf("channel b created %v, not after a %v", chB.CreatedAt, chA.CreatedAt)
	}
	for i, m := range all {
		if !m.CommittedAt.After(prev) {
			t.Fatalf("message %d (%s) committed at %v, not after %v", i, m.ID, m.CommittedAt, prev)
		}
		if i > 0 && m.Index < all[i-1].Index {
			t.Fatalf("commit order disagrees with log order at %s", m.ID)
		}
		if m.CommittedAt.Location() != time.UTC {
			t.Fatalf("commit time %v not in UTC", m.CommittedAt)
		}
		prev = m.CommittedAt
	}
	if !s.LastCommit().Equal(prev) {
		t.Fatalf("LastCommit = %v, want %v", s.LastCommit(), prev)
	}
	// A stamp ahead of the floor is kept as is: entry 7's first message.
	i := slices.IndexFunc(all, func(m Message) bool { return m.Index == 7 })
	if want := t0.Add(time.Second); !all[i].CommittedAt.Equal(want) {
		t.Fatalf("entry 7 committed at %v, want the leader stamp %v", all[i].CommittedAt, want)
	}
	// Everything else was pushed to the floor, 1µs apart.
	if want := t0.Add(time.Second + 3*time.Microsecond); !prev.Equal(want) {
		t.Fatalf("last commit = %v, want %v", prev, want)
	}
}

func TestApplyRefusals(t *testing.T) {
	long := strings.Repeat("x", MaxTextBytes+1)
	tests := []struct {
		name    string
		op      Op
		wantErr string // substring of Result.Err
	}{
		{"unknown channel", msg("u1", "nowhere", "hi"), "unknown channel"},
		{"nil message", Op{Kind: OpMessage}, "invalid envelope"},
		{"empty id", msg("", "general", "hi"), "empty id"},
		{"long id", msg(strings.Repeat("i", MaxIDBytes+1), "general", "hi"), "id longer"},
		{"empty text", msg("u2", "general", ""), "empty text"},
		{"long text", msg("u3", "general", long), "text longer"},
		{"bad utf8", msg("u4", "general", "\xff\xfe"), "UTF-8"},
		{"bad channel", msg("u5", "General", "hi"), "invalid channel name"},
		{"no author", Op{Kind: OpMessage, Message: &Envelope{ID: "u6", Channel: "general", Text: "hi"}}, "empty author"},
		{"channel exists", mkChan("general"), "channel exists"},
		{"bad channel name", mkChan("-x"), "invalid channel name"},
		{"nil member", Op{Kind: OpAddMember}, "invalid member"},
		{"bad role", addMember("p1", "ann", "owner"), "unknown role"},
		{"unknown kind", Op{Kind: 99}, "unknown op kind 99"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t)
			mustApply(t, s, entry(1, t0, mkChan("general")))
			before := s.LastCommit()
			res := mustApply(t, s, entry(2, t0.Add(time.Hour), tc.op))
			if r := res[0][0]; !strings.Contains(r.Err, tc.wantErr) || r.Seq != 0 || r.Dup {
				t.Fatalf("result = %+v, want Err containing %q", r, tc.wantErr)
			}
			if h := mustHistory(t, s, "general"); len(h) != 0 {
				t.Fatalf("history = %+v, want empty", h)
			}
			if !s.LastCommit().Equal(before) {
				t.Fatalf("refusal moved LastCommit to %v", s.LastCommit())
			}
			if s.AppliedIndex() != 2 {
				t.Fatalf("AppliedIndex = %d, want 2: a refused op still applies its entry", s.AppliedIndex())
			}
		})
	}

	t.Run("unknown channel does not record id", func(t *testing.T) {
		s := mustOpen(t)
		res := mustApply(t, s,
			entry(1, t0, msg("late", "later", "early bird")),
			entry(2, t0, mkChan("later")),
			entry(3, t0, msg("late", "later", "early bird")),
		)
		if res[0][0].Err != ErrUnknownChannel.Error() {
			t.Fatalf("first = %+v, want unknown channel", res[0][0])
		}
		if r := res[2][0]; r.Dup || r.Seq != 1 {
			t.Fatalf("retry = %+v, want stored as seq 1", r)
		}
	})
}

func TestApplyMembers(t *testing.T) {
	s := mustOpen(t)
	mustApply(t, s,
		entry(1, t0, addMember("p2", "zoe", RoleAdmin)),
		entry(2, t0, inviteOp("p2", "i1", "k1", t0.Add(time.Hour)), inviteOp("p2", "i2", "k2", t0.Add(time.Hour))),
		entry(3, t0, redeem("p2", "i1", "p1", "ann"), redeem("p2", "i2", "p3", "bob")),
		entry(4, t0.Add(time.Hour), Op{Kind: OpAddMember, By: "p1", Member: &Member{ID: "p1", Name: "anne", Addrs: []string{"/ip4/1.2.3.4"}}}),
	)
	ms, err := s.Members()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if want := []string{"anne", "bob", "zoe"}; !slices.Equal(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	ann, err := s.Member("p1")
	if err != nil {
		t.Fatal(err)
	}
	if ann.Role != RoleMember || !ann.JoinedAt.Equal(t0) || len(ann.Addrs) != 1 {
		t.Fatalf("p1 = %+v: want role member, JoinedAt kept from the join, addrs updated", ann)
	}
	if zoe, _ := s.Member("p2"); zoe.Role != RoleAdmin {
		t.Fatalf("founder role = %q, want admin", zoe.Role)
	}
	if inv, err := s.Invite("i1"); err != nil || inv.UsedBy != "p1" || inv.Issuer != "p2" {
		t.Fatalf("invite i1 = %+v, %v: want used by p1, issued by p2", inv, err)
	}
	if _, err := s.Member("nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Member(nobody) err = %v, want ErrNotFound", err)
	}
}
