package storage

import (
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func outboxTestConfig(t *testing.T, path string, keepSent int) OutboxConfig {
	t.Helper()
	return OutboxConfig{
		Path:     path,
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		KeepSent: keepSent,
	}
}

// mustOpenOutbox opens the outbox at path (a fresh one in a temp dir if path
// is empty), closed at the end of the test.
func mustOpenOutbox(t *testing.T, path string, keepSent int) *Outbox {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), OutboxFileName)
	}
	o, err := OpenOutbox(outboxTestConfig(t, path, keepSent))
	if err != nil {
		t.Fatalf("OpenOutbox(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o
}

// reopenOutbox closes o and opens its file again.
func reopenOutbox(t *testing.T, o *Outbox, keepSent int) *Outbox {
	t.Helper()
	if err := o.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return mustOpenOutbox(t, o.cfg.Path, keepSent)
}

func outEnv(id string) Envelope {
	return Envelope{ID: id, Author: "12D3KooWauthor", Channel: "general", Text: "text of " + id, SentAt: t0}
}

func mustPut(t *testing.T, o *Outbox, ids ...string) []OutboxEntry {
	t.Helper()
	var out []OutboxEntry
	for i, id := range ids {
		e, err := o.Put(outEnv(id), t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("Put(%q): %v", id, err)
		}
		out = append(out, e)
	}
	return out
}

func mustGet(t *testing.T, o *Outbox, id string) OutboxEntry {
	t.Helper()
	e, err := o.Get(id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return e
}

func outIDs(es []OutboxEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Envelope.ID)
	}
	return out
}

func pendingIDs(t *testing.T, o *Outbox, limit int) []string {
	t.Helper()
	p, err := o.Pending(limit)
	if err != nil {
		t.Fatalf("Pending(%d): %v", limit, err)
	}
	return outIDs(p)
}

func listIDs(t *testing.T, o *Outbox, states ...OutboxState) []string {
	t.Helper()
	l, err := o.List(states...)
	if err != nil {
		t.Fatalf("List(%v): %v", states, err)
	}
	return outIDs(l)
}

// sameEntry compares entries with time.Equal for the times.
func sameEntry(a, b OutboxEntry) bool {
	return a.Seq == b.Seq && a.State == b.State && a.Reason == b.Reason && a.Attempts == b.Attempts &&
		a.Index == b.Index && a.QueuedAt.Equal(b.QueuedAt) && a.SentAt.Equal(b.SentAt) &&
		a.Envelope.ID == b.Envelope.ID && a.Envelope.Author == b.Envelope.Author &&
		a.Envelope.Channel == b.Envelope.Channel && a.Envelope.Text == b.Envelope.Text &&
		a.Envelope.SentAt.Equal(b.Envelope.SentAt) && a.Envelope.ReplyTo == b.Envelope.ReplyTo && reflect.DeepEqual(a.Envelope.File, b.Envelope.File) &&
		reflect.DeepEqual(a.Envelope.Action, b.Envelope.Action)
}

// checkCounts compares Counts with what List finds.
func checkCounts(t *testing.T, o *Outbox) {
	t.Helper()
	q, f := o.Counts()
	if lq, lf := len(listIDs(t, o, OutboxQueued)), len(listIDs(t, o, OutboxFailed)); q != lq || f != lf {
		t.Fatalf("Counts = (%d, %d), List finds (%d, %d)", q, f, lq, lf)
	}
}

func TestOutboxConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  OutboxConfig
		ok   bool
	}{
		{"ok", OutboxConfig{Path: "x.db"}, true},
		{"keep", OutboxConfig{Path: "x.db", KeepSent: 5}, true},
		{"no path", OutboxConfig{}, false},
		{"negative keep", OutboxConfig{Path: "x.db", KeepSent: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				if _, err := OpenOutbox(tc.cfg); err == nil {
					t.Fatal("OpenOutbox accepted an invalid config")
				}
			}
		})
	}
}

func TestOutboxPutPending(t *testing.T) {
	tests := []struct {
		name  string
		put   []string
		limit int
		want  []string
	}{
		{"empty", nil, 0, nil},
		{"one", []string{"a"}, 0, []string{"a"}},
		{"put order, not ID order", []string{"c", "a", "b"}, 0, []string{"c", "a", "b"}},
		{"limit", []string{"c", "a", "b", "d"}, 2, []string{"c", "a"}},
		{"limit above count", []string{"a", "b"}, 5, []string{"a", "b"}},
		{"negative limit is all", []string{"a", "b"}, -1, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mustOpenOutbox(t, "", 0)
			put := mustPut(t, o, tc.put...)
			for i, e := range put {
				if e.Seq != uint64(i+1) || e.State != OutboxQueued || e.Attempts != 0 || e.Reason != "" ||
					!e.QueuedAt.Equal(t0.Add(time.Duration(i)*time.Second)) || !e.SentAt.IsZero() {
					t.Fatalf("Put #%d returned %+v", i, e)
				}
				if got := mustGet(t, o, e.Envelope.ID); !sameEntry(got, e) {
					t.Fatalf("Get = %+v, Put returned %+v", got, e)
				}
			}
			if got := pendingIDs(t, o, tc.limit); !slices.Equal(got, tc.want) {
				t.Fatalf("Pending(%d) = %v, want %v", tc.limit, got, tc.want)
			}
			// Still there, same order, after a reopen.
			o = reopenOutbox(t, o, 0)
			if got := pendingIDs(t, o, tc.limit); !slices.Equal(got, tc.want) {
				t.Fatalf("after reopen Pending(%d) = %v, want %v", tc.limit, got, tc.want)
			}
			for _, e := range put {
				if got := mustGet(t, o, e.Envelope.ID); !sameEntry(got, e) {
					t.Fatalf("after reopen Get = %+v, Put returned %+v", got, e)
				}
			}
			if q, f := o.Counts(); q != len(tc.put) || f != 0 {
				t.Fatalf("Counts = (%d, %d), want (%d, 0)", q, f, len(tc.put))
			}
		})
	}
}

func TestOutboxPutRefused(t *testing.T) {
	bad := func(mod func(*Envelope)) Envelope {
		e := outEnv("new")
		mod(&e)
		return e
	}
	tests := []struct {
		name string
		env  Envelope
		want error
	}{
		{"duplicate", outEnv("first"), ErrDuplicate},
		{"empty id", bad(func(e *Envelope) { e.ID = "" }), ErrInvalidEnvelope},
		{"long id", bad(func(e *Envelope) { e.ID = strings.Repeat("x", MaxIDBytes+1) }), ErrInvalidEnvelope},
		{"empty text", bad(func(e *Envelope) { e.Text = "" }), ErrInvalidEnvelope},
		{"empty author", bad(func(e *Envelope) { e.Author = "" }), ErrInvalidEnvelope},
		{"bad channel", bad(func(e *Envelope) { e.Channel = "No Spaces" }), ErrInvalidEnvelope},
		{"non-UTF-8 id", bad(func(e *Envelope) { e.ID = "id\xff" }), ErrInvalidEnvelope},
		{"non-UTF-8 author", bad(func(e *Envelope) { e.Author = "a\xc3" }), ErrInvalidEnvelope},
		{"non-UTF-8 text", bad(func(e *Envelope) { e.Text = "t\xff" }), ErrInvalidEnvelope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mustOpenOutbox(t, "", 0)
			mustPut(t, o, "first")
			_, err := o.Put(tc.env, t0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put = %v, want %v", err, tc.want)
			}
			if got := listIDs(t, o); !slices.Equal(got, []string{"first"}) {
				t.Fatalf("after refused Put, List = %v", got)
			}
			checkCounts(t, o)
			// A refused Put uses up no Seq.
			if e := mustPut(t, o, "second")[0]; e.Seq != 2 {
				t.Fatalf("next Seq = %d, want 2", e.Seq)
			}
		})
	}
}

func TestOutboxMarkSent(t *testing.T) {
	type mark struct {
		ids   []string
		index uint64
	}
	tests := []struct {
		name     string
		keep     int
		put      []string
		marks    []mark
		pending  []string
		sent     []string // List(OutboxSent) afterwards
		gone     []string // trimmed: ErrNotFound
		indexOf  map[string]uint64
		wantSeqs []uint64 // Seq of the sent entries
	}{
		{
			name: "default keep", put: []string{"a", "b", "c"},
			marks:   []mark{{[]string{"a", "b"}, 7}},
			pending: []string{"c"}, sent: []string{"a", "b"},
			indexOf: map[string]uint64{"a": 7, "b": 7},
		},
		{
			name: "unknown ids ignored", put: []string{"a", "b"},
			marks:   []mark{{[]string{"zz", "b", "yy"}, 3}},
			pending: []string{"a"}, sent: []string{"b"},
			indexOf: map[string]uint64{"b": 3},
		},
		{
			name: "out of order", put: []string{"a", "b", "c", "d"},
			marks:   []mark{{[]string{"c"}, 1}, {[]string{"a"}, 2}},
			pending: []string{"b", "d"}, sent: []string{"a", "c"},
		},
		{
			name: "second mark keeps first index, learns unknown one", put: []string{"a", "b"},
			marks:   []mark{{[]string{"a"}, 5}, {[]string{"b"}, 0}, {[]string{"a", "b"}, 9}},
			pending: nil, sent: []string{"a", "b"},
			indexOf: map[string]uint64{"a": 5, "b": 9},
		},
		{
			name: "duplicate ids in batch", put: []string{"a"},
			marks:   []mark{{[]string{"a", "a"}, 4}},
			pending: nil, sent: []string{"a"},
		},
		{
			name: "trim to keep, oldest first", keep: 2, put: []string{"a", "b", "c", "d", "e", "f"},
			marks:   []mark{{[]string{"a", "b"}, 1}, {[]string{"c", "d", "e"}, 2}},
			pending: []string{"f"}, sent: []string{"d", "e"}, gone: []string{"a", "b", "c"},
			wantSeqs: []uint64{4, 5},
		},
		{
			name: "trim skips queued", keep: 1, put: []string{"a", "b", "c"},
			marks:   []mark{{[]string{"b"}, 1}, {[]string{"c"}, 2}},
			pending: []string{"a"}, sent: []string{"c"}, gone: []string{"b"},
		},
		{
			name: "keep one, batch larger", keep: 1, put: []string{"a", "b", "c", "d"},
			marks:   []mark{{[]string{"a", "b", "c", "d"}, 1}},
			pending: nil, sent: []string{"d"}, gone: []string{"a", "b", "c"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mustOpenOutbox(t, "", tc.keep)
			mustPut(t, o, tc.put...)
			now := t0.Add(time.Hour)
			for _, m := range tc.marks {
				if err := o.MarkSent(m.ids, m.index, now); err != nil {
					t.Fatalf("MarkSent(%v): %v", m.ids, err)
				}
				now = now.Add(time.Minute)
			}
			check := func(t *testing.T, o *Outbox) {
				t.Helper()
				if got := pendingIDs(t, o, 0); !slices.Equal(got, tc.pending) {
					t.Fatalf("Pending = %v, want %v", got, tc.pending)
				}
				sent, err := o.List(OutboxSent)
				if err != nil {
					t.Fatal(err)
				}
				if got := outIDs(sent); !slices.Equal(got, tc.sent) {
					t.Fatalf("sent = %v, want %v", got, tc.sent)
				}
				for _, e := range sent {
					if e.SentAt.IsZero() || e.SentAt.Before(t0.Add(time.Hour)) || e.Reason != "" {
						t.Fatalf("sent entry %+v", e)
					}
					if want, ok := tc.indexOf[e.Envelope.ID]; ok && e.Index != want {
						t.Fatalf("%s: Index = %d, want %d", e.Envelope.ID, e.Index, want)
					}
				}
				if tc.wantSeqs != nil {
					var seqs []uint64
					for _, e := range sent {
						seqs = append(seqs, e.Seq)
					}
					if !slices.Equal(seqs, tc.wantSeqs) {
						t.Fatalf("sent seqs = %v, want %v", seqs, tc.wantSeqs)
					}
				}
				for _, id := range tc.gone {
					if _, err := o.Get(id); !errors.Is(err, ErrNotFound) {
						t.Fatalf("Get(trimmed %q) = %v, want ErrNotFound", id, err)
					}
				}
				checkCounts(t, o)
			}
			check(t, o)
			check(t, reopenOutbox(t, o, tc.keep))
		})
	}
}

func TestOutboxMarkSentKeepsFirstStamp(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a")
	first := t0.Add(time.Hour)
	if err := o.MarkSent([]string{"a"}, 3, first); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkSent([]string{"a"}, 4, first.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if e := mustGet(t, o, "a"); !e.SentAt.Equal(first) || e.Index != 3 {
		t.Fatalf("after second MarkSent: %+v", e)
	}
	if err := o.MarkSent(nil, 1, first); err != nil {
		t.Fatalf("MarkSent(nil) = %v", err)
	}
}

func TestOutboxTrimmedIDsAreNotReusedSeqs(t *testing.T) {
	o := mustOpenOutbox(t, "", 1)
	mustPut(t, o, "a", "b", "c")
	if err := o.MarkSent([]string{"a", "b", "c"}, 1, t0); err != nil {
		t.Fatal(err)
	}
	o = reopenOutbox(t, o, 1)
	// Seqs 1-3 are gone or sent; a new Put never gets one of them back,
	// even for a trimmed ID.
	for i, id := range []string{"d", "a"} {
		if e := mustPut(t, o, id)[0]; e.Seq != uint64(4+i) {
			t.Fatalf("Put(%q).Seq = %d, want %d", id, e.Seq, 4+i)
		}
	}
}

func TestOutboxReopenTrimsToSmallerKeep(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a", "b", "c", "d")
	if err := o.MarkSent([]string{"a", "b", "c"}, 1, t0); err != nil {
		t.Fatal(err)
	}
	o = reopenOutbox(t, o, 1)
	if got := listIDs(t, o); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("List after reopen with KeepSent 1 = %v", got)
	}
}

func TestOutboxFailRetry(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a", "b", "c")

	steps := []struct {
		name    string
		do      func() error
		want    error
		pending []string
		failed  []string
	}{
		{"fail b", func() error { return o.MarkFailed("b", "unknown channel") }, nil, []string{"a", "c"}, []string{"b"}},
		{"fail b again", func() error { return o.MarkFailed("b", "still unknown") }, nil, []string{"a", "c"}, []string{"b"}},
		{"fail unknown", func() error { return o.MarkFailed("zz", "x") }, ErrNotFound, []string{"a", "c"}, []string{"b"}},
		{"note attempt ignores failed", func() error { return o.NoteAttempt([]string{"b"}, "timeout") }, nil, []string{"a", "c"}, []string{"b"}},
		{"retry queued is a no-op", func() error { return o.Retry("a") }, nil, []string{"a", "c"}, []string{"b"}},
		{"retry unknown", func() error { return o.Retry("zz") }, ErrNotFound, []string{"a", "c"}, []string{"b"}},
		{"retry b keeps its place", func() error { return o.Retry("b") }, nil, []string{"a", "b", "c"}, nil},
		{"send a", func() error { return o.MarkSent([]string{"a"}, 1, t0) }, nil, []string{"b", "c"}, nil},
		{"retry sent", func() error { return o.Retry("a") }, ErrAlreadySent, []string{"b", "c"}, nil},
		{"fail sent", func() error { return o.MarkFailed("a", "late") }, ErrAlreadySent, []string{"b", "c"}, nil},
		{"fail c", func() error { return o.MarkFailed("c", "too big") }, nil, []string{"b"}, []string{"c"}},
		{"log had c after all", func() error { return o.MarkSent([]string{"c"}, 2, t0) }, nil, []string{"b"}, nil},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.want)
		}
		if got := pendingIDs(t, o, 0); !slices.Equal(got, st.pending) {
			t.Fatalf("%s: Pending = %v, want %v", st.name, got, st.pending)
		}
		if got := listIDs(t, o, OutboxFailed); !slices.Equal(got, st.failed) {
			t.Fatalf("%s: failed = %v, want %v", st.name, got, st.failed)
		}
		checkCounts(t, o)
	}
	if e := mustGet(t, o, "b"); e.State != OutboxQueued || e.Reason != "" || e.Seq != 2 {
		t.Fatalf("retried entry = %+v", e)
	}
	if e := mustGet(t, o, "c"); e.State != OutboxSent || e.Reason != "" || e.Index != 2 {
		t.Fatalf("failed-then-sent entry = %+v", e)
	}
}

func TestOutboxFailedReason(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a")
	if err := o.MarkFailed("a", "unknown channel"); err != nil {
		t.Fatal(err)
	}
	o = reopenOutbox(t, o, 0)
	if e := mustGet(t, o, "a"); e.State != OutboxFailed || e.Reason != "unknown channel" {
		t.Fatalf("after reopen: %+v", e)
	}
	if q, f := o.Counts(); q != 0 || f != 1 {
		t.Fatalf("Counts = (%d, %d), want (0, 1)", q, f)
	}
}

func TestOutboxNoteAttempt(t *testing.T) {
	long := strings.Repeat("é", maxReasonBytes) // 2 bytes per rune: must be cut at a rune boundary
	tests := []struct {
		name     string
		rounds   [][]string // IDs noted per round, all with reason
		reason   string
		wantA    int
		wantB    int
		wantText string
	}{
		{"none", nil, "x", 0, 0, ""},
		{"empty batch", [][]string{{}}, "x", 0, 0, ""},
		{"one round both", [][]string{{"a", "b"}}, "no leader", 1, 1, "no leader"},
		{"rounds", [][]string{{"a", "b"}, {"a"}, {"a", "zz"}}, "timeout", 3, 1, "timeout"},
		{"duplicate in batch", [][]string{{"a", "a"}}, "x", 2, 0, "x"},
		{"invalid UTF-8 reason", [][]string{{"a"}}, "bad\xffbyte", 1, 0, "bad\uFFFDbyte"},
		{"long reason", [][]string{{"a"}}, long, 1, 0, long[:maxReasonBytes]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mustOpenOutbox(t, "", 0)
			mustPut(t, o, "a", "b")
			for _, ids := range tc.rounds {
				if err := o.NoteAttempt(ids, tc.reason); err != nil {
					t.Fatalf("NoteAttempt(%v): %v", ids, err)
				}
			}
			check := func(o *Outbox) {
				t.Helper()
				a, b := mustGet(t, o, "a"), mustGet(t, o, "b")
				if a.Attempts != tc.wantA || b.Attempts != tc.wantB {
					t.Fatalf("Attempts = %d, %d, want %d, %d", a.Attempts, b.Attempts, tc.wantA, tc.wantB)
				}
				if tc.wantA > 0 && a.Reason != tc.wantText {
					t.Fatalf("Reason = %q (%d bytes), want %q", a.Reason, len(a.Reason), tc.wantText)
				}
				if a.State != OutboxQueued || !utf8.ValidString(a.Reason) || len(a.Reason) > maxReasonBytes {
					t.Fatalf("entry a = %+v", a)
				}
				// The envelope bytes are carried over untouched.
				if !sameEntry(OutboxEntry{Envelope: a.Envelope}, OutboxEntry{Envelope: outEnv("a")}) {
					t.Fatalf("envelope changed by NoteAttempt: %+v", a.Envelope)
				}
			}
			check(o)
			check(reopenOutbox(t, o, 0))
		})
	}
}
