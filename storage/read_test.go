package storage

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// withMessages returns a store whose channel "general" holds seqs 1..n.
func withMessages(t *testing.T, n int) *Store {
	t.Helper()
	s := mustOpen(t)
	entries := []Entry{entry(1, t0, mkChan("general"), mkChan("empty"))}
	for i := 1; i <= n; i++ {
		entries = append(entries, entry(uint64(i+1), t0.Add(time.Duration(i)*time.Second),
			msg(fmt.Sprintf("m%d", i), "general", "text")))
	}
	mustApply(t, s, entries...)
	return s
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestHistoryPaging(t *testing.T) {
	s := withMessages(t, 10)
	tests := []struct {
		name string
		q    Query
		want []uint64
	}{
		{"all", Query{}, span(1, 10)},
		{"last 3", Query{Limit: 3}, span(8, 10)},
		{"before 8 limit 3", Query{Before: 8, Limit: 3}, span(5, 7)},
		{"before 3 limit 5", Query{Before: 3, Limit: 5}, span(1, 2)},
		{"before 1", Query{Before: 1, Limit: 5}, nil},
		{"before 11 (past end)", Query{Before: 11, Limit: 2}, span(9, 10)},
		{"before 1000 all", Query{Before: 1000}, span(1, 10)},
		{"before 5 all", Query{Before: 5}, span(1, 4)},
		{"limit larger than channel", Query{Limit: 1 << 40}, span(1, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := s.History("general", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(h); !slices.Equal(got, tc.want) {
				t.Fatalf("seqs = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("page backwards to the start", func(t *testing.T) {
		var got []uint64
		q := Query{Limit: 4}
		for {
			page, err := s.History("general", q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(seqs(page), got...)
			q.Before = page[0].Seq
		}
		if !slices.Equal(got, span(1, 10)) {
			t.Fatalf("paged seqs = %v", got)
		}
	})
}

func TestReadErrors(t *testing.T) {
	s := withMessages(t, 3)
	tests := []struct {
		name string
		err  error
		want []error
	}{
		{"history unknown", func() error { _, err := s.History("nope", Query{}); return err }(), []error{ErrUnknownChannel, ErrNotFound}},
		{"history negative limit", func() error { _, err := s.History("general", Query{Limit: -1}); return err }(), []error{ErrInvalidQuery}},
		{"channel unknown", func() error { _, err := s.Channel("nope"); return err }(), []error{ErrUnknownChannel, ErrNotFound}},
		{"each unknown", s.EachMessage("nope", func(Message) error { return nil }), []error{ErrUnknownChannel}},
		{"lookup unknown", func() error { _, err := s.Lookup("nope"); return err }(), []error{ErrNotFound}},
		{"member unknown", func() error { _, err := s.Member("nope"); return err }(), []error{ErrNotFound}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, want := range tc.want {
				if !errors.Is(tc.err, want) {
					t.Errorf("err = %v, want %v", tc.err, want)
				}
			}
		})
	}
	if h, err := s.History("empty", Query{Limit: 5}); err != nil || len(h) != 0 {
		t.Fatalf("History(empty) = %v, %v", h, err)
	}
}

func TestEachMessageStopsOnError(t *testing.T) {
	s := withMessages(t, 5)
	stop := errors.New("stop")
	var seen []uint64
	err := s.EachMessage("general", func(m Message) error {
		seen = append(seen, m.Seq)
		if m.Seq == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unwrapped", err)
	}
	if !slices.Equal(seen, []uint64{1, 2}) {
		t.Fatalf("seen = %v", seen)
	}
}
