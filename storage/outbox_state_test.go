package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOutboxCountsAfterReopen(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	o := mustOpenOutbox(t, "", 3)
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("m%02d", i)
		ids = append(ids, id)
		mustPut(t, o, id)
		// Random later operations on random earlier entries; errors such
		// as ErrAlreadySent or ErrNotFound (trimmed) are part of the mix.
		target := ids[rng.IntN(len(ids))]
		switch rng.IntN(4) {
		case 0:
			_ = o.MarkSent([]string{target}, uint64(i), t0)
		case 1:
			_ = o.MarkFailed(target, "refused")
		case 2:
			_ = o.Retry(target)
		case 3:
			_ = o.NoteAttempt([]string{target}, "slow")
		}
	}
	checkCounts(t, o)
	q, f := o.Counts()
	o = reopenOutbox(t, o, 3)
	checkCounts(t, o)
	if q2, f2 := o.Counts(); q2 != q || f2 != f {
		t.Fatalf("Counts after reopen = (%d, %d), before (%d, %d)", q2, f2, q, f)
	}
	if n := len(listIDs(t, o, OutboxSent)); n > 3 {
		t.Fatalf("%d sent entries kept, KeepSent is 3", n)
	}
	all := listIDs(t, o)
	if n := len(all); n != q+f+len(listIDs(t, o, OutboxSent)) {
		t.Fatalf("List() has %d entries, states add up to something else", n)
	}
}

func TestOutboxNotify(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name string
		do   func() error
		fire bool
	}{
		{"put", func() error { _, err := o.Put(outEnv("a"), t0); return err }, true},
		{"put another", func() error { _, err := o.Put(outEnv("b"), t0); return err }, true},
		{"refused put", func() error { _, err := o.Put(outEnv("a"), t0); return ignoreErr(err, ErrDuplicate) }, false},
		{"note attempt", func() error { return o.NoteAttempt([]string{"a"}, "x") }, false},
		{"mark failed", func() error { return o.MarkFailed("a", "x") }, false},
		{"retry", func() error { return o.Retry("a") }, true},
		{"retry queued", func() error { return o.Retry("a") }, false},
		{"mark sent", func() error { return o.MarkSent([]string{"a"}, 1, t0) }, false},
		{"close", o.Close, true},
	}
	for _, st := range steps {
		ch := o.Notify()
		if closed(ch) {
			t.Fatalf("%s: Notify channel closed before", st.name)
		}
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if closed(ch) != st.fire {
			t.Fatalf("%s: fired = %v, want %v", st.name, !st.fire, st.fire)
		}
	}
	if !closed(o.Notify()) {
		t.Fatal("Notify after Close is not closed")
	}
}

// ignoreErr returns nil if err is target, else err (or a complaint if nil).
func ignoreErr(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("want %v, got nil", target)
	}
	return err
}

// TestHelperOutboxCrash is not a test: TestOutboxCrashDurability runs the
// test binary with it to Put from a process that exits without Close.
func TestHelperOutboxCrash(t *testing.T) {
	path := os.Getenv("CONCORD_OUTBOX_CRASH")
	if path == "" {
		t.Skip("helper process only")
	}
	o, err := OpenOutbox(OutboxConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x", "y", "z"} {
		e, err := o.Put(outEnv(id), t0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "put %s\n", b)
	}
	os.Exit(0) // no Close, no deferred cleanup: as if the app died
}

func TestOutboxCrashDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), OutboxFileName)
	// paniconexit0 is off by default; say so in case go test's default
	// ever reaches the child.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOutboxCrash$", "-test.paniconexit0=false")
	cmd.Env = append(os.Environ(), "CONCORD_OUTBOX_CRASH="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	var put []OutboxEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "put ")
		if !ok {
			continue
		}
		var e OutboxEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("helper line %q: %v", line, err)
		}
		put = append(put, e)
	}
	if len(put) != 3 {
		t.Fatalf("helper reported %d Puts, want 3:\n%s", len(put), out)
	}

	o := mustOpenOutbox(t, path, 0)
	pending, err := o.Pending(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(put) {
		t.Fatalf("after crash Pending = %v, want %v", outIDs(pending), outIDs(put))
	}
	for i := range put {
		if !sameEntry(pending[i], put[i]) || pending[i].State != OutboxQueued {
			t.Fatalf("after crash entry %d = %+v, helper's Put returned %+v", i, pending[i], put[i])
		}
	}
	if q, f := o.Counts(); q != 3 || f != 0 {
		t.Fatalf("Counts = (%d, %d), want (3, 0)", q, f)
	}
	if e := mustPut(t, o, "after")[0]; e.Seq != 4 {
		t.Fatalf("Seq after crash = %d, want 4", e.Seq)
	}
}

func TestOpenOutboxCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	stateDB := func(t *testing.T, path string) {
		t.Helper()
		s, err := Open(testConfig(t, path))
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, s, entry(1, t0, mkChan("general")))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"short text", func(t *testing.T, path string) { writeTestFile(t, path, []byte("not an outbox\n")) }},
		{"one page of garbage", func(t *testing.T, path string) { writeTestFile(t, path, random(4096)) }},
		{"many pages of garbage", func(t *testing.T, path string) { writeTestFile(t, path, random(64<<10)) }},
		{"zeros", func(t *testing.T, path string) { writeTestFile(t, path, make([]byte, 32<<10)) }},
		{"a state.db", stateDB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), OutboxFileName)
			tc.write(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			o, err := OpenOutbox(outboxTestConfig(t, path, 0))
			if err == nil {
				_ = o.Close()
				t.Fatal("OpenOutbox succeeded")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrCorrupt naming %s", err, path)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Fatal("OpenOutbox modified the file")
			}
		})
	}
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The reverse mix-up: the state store must not adopt an outbox file.
func TestOpenStoreOnOutboxFile(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(testConfig(t, o.cfg.Path)); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			_ = s.Close()
		}
		t.Fatalf("Open(outbox.db) = %v, want ErrCorrupt", err)
	}
}

func TestOutboxCorruptRecord(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a")
	// Damage the record behind the API's back.
	err := o.update(func(tx *bolt.Tx, _ *outboxCounts) error {
		return tx.Bucket(bucketOutboxEntries).Put(seqKey(1), []byte{outboxRecordVersion, 9})
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Get":     func() error { _, err := o.Get("a"); return err }(),
		"Pending": func() error { _, err := o.Pending(0); return err }(),
		"List":    func() error { _, err := o.List(); return err }(),
		"Retry":   o.Retry("a"),
	} {
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s = %v, want ErrCorrupt", name, err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenOutbox(outboxTestConfig(t, o.cfg.Path, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reopen = %v, want ErrCorrupt", err)
	}
}

func TestOutboxLocked(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	o2, err := OpenOutbox(outboxTestConfig(t, o.cfg.Path, 0))
	if err == nil {
		_ = o2.Close()
		t.Fatal("second OpenOutbox of the same file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}

func TestOutboxListStates(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a", "b", "c", "d")
	if err := o.MarkSent([]string{"b"}, 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkFailed("c", "no"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		states []OutboxState
		want   []string
	}{
		{nil, []string{"a", "b", "c", "d"}},
		{[]OutboxState{OutboxQueued}, []string{"a", "d"}},
		{[]OutboxState{OutboxSent}, []string{"b"}},
		{[]OutboxState{OutboxFailed}, []string{"c"}},
		{[]OutboxState{OutboxFailed, OutboxQueued}, []string{"a", "c", "d"}},
	}
	for _, tc := range tests {
		if got := listIDs(t, o, tc.states...); !slices.Equal(got, tc.want) {
			t.Errorf("List(%v) = %v, want %v", tc.states, got, tc.want)
		}
	}
	if _, err := o.List("bogus"); err == nil {
		t.Error("List(bogus state) succeeded")
	}
}

func TestOutboxClosed(t *testing.T) {
	o, err := OpenOutbox(outboxTestConfig(t, filepath.Join(t.TempDir(), OutboxFileName), 0))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, o, "a")
	for i := range 2 {
		if err := o.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	calls := map[string]error{
		"Put":         func() error { _, err := o.Put(outEnv("b"), t0); return err }(),
		"Pending":     func() error { _, err := o.Pending(0); return err }(),
		"Get":         func() error { _, err := o.Get("a"); return err }(),
		"List":        func() error { _, err := o.List(); return err }(),
		"MarkSent":    o.MarkSent([]string{"a"}, 1, t0),
		"MarkFailed":  o.MarkFailed("a", "x"),
		"NoteAttempt": o.NoteAttempt([]string{"a"}, "x"),
		"Retry":       o.Retry("a"),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if q, f := o.Counts(); q != 1 || f != 0 {
		t.Errorf("Counts after Close = (%d, %d), want last counts (1, 0)", q, f)
	}
}

func TestOutboxConcurrentPut(t *testing.T) {
	const workers, each = 8, 6
	o := mustOpenOutbox(t, "", 0)
	seqs := make([][]uint64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e, err := o.Put(outEnv(fmt.Sprintf("w%d-%d", w, i)), t0)
				if err != nil {
					errs[w] = err
					return
				}
				seqs[w] = append(seqs[w], e.Seq)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var all []uint64
	for w, s := range seqs {
		// Each goroutine's Puts are ordered, so its Seqs must increase.
		if !slices.IsSorted(s) || len(slices.Compact(slices.Clone(s))) != len(s) {
			t.Fatalf("worker %d got Seqs %v", w, s)
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	for i, s := range all {
		if s != uint64(i+1) {
			t.Fatalf("Seqs = %v, want 1..%d each once", all, workers*each)
		}
	}
	pending, err := o.Pending(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != workers*each {
		t.Fatalf("Pending has %d entries, want %d", len(pending), workers*each)
	}
	for i, e := range pending {
		if e.Seq != uint64(i+1) {
			t.Fatalf("Pending[%d].Seq = %d", i, e.Seq)
		}
	}
	if q, _ := o.Counts(); q != workers*each {
		t.Fatalf("Counts queued = %d, want %d", q, workers*each)
	}
}

func TestOutboxRecordRoundTrip(t *testing.T) {
	tests := []OutboxEntry{
		{Envelope: outEnv("a"), State: OutboxQueued, QueuedAt: t0},
		{Envelope: outEnv("b"), State: OutboxSent, Attempts: 3, QueuedAt: t0, SentAt: t0.Add(time.Second), Index: 1 << 40},
		{Envelope: outEnv("c"), State: OutboxFailed, Reason: "unknown channel", Attempts: maxAttempts},
		{Envelope: Envelope{ID: "ü", Author: "x", Channel: "g", Text: "ünï"}, State: OutboxQueued},
		{Envelope: Envelope{ID: "r", Author: "x", Channel: "g", Text: "re", ReplyTo: "ü"}, State: OutboxQueued},
		{Envelope: Envelope{ID: "f", Author: "x", Channel: "g", Text: "a.png",
			File: &FileRef{Name: "a.png", Size: 5, Type: "image/png", Hash: strings.Repeat("ab", 32)}}, State: OutboxQueued},
	}
	for _, want := range tests {
		b := appendOutboxEnvelope(appendOutboxHeader(nil, &want), &want.Envelope)
		got, err := decodeOutboxRecord(want.Seq, b)
		if err != nil {
			t.Fatalf("decode(%+v): %v", want, err)
		}
		if !sameEntry(got, want) {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
		// Every strict prefix is damage, never a panic or a shorter entry.
		for n := range len(b) {
			if _, err := decodeOutboxRecord(1, b[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("prefix of %d/%d bytes: %v, want ErrCorrupt", n, len(b), err)
			}
		}
		if _, err := decodeOutboxRecord(1, append(b, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("trailing byte: %v, want ErrCorrupt", err)
		}
	}
}

func FuzzOutboxRecord(f *testing.F) {
	for _, e := range []OutboxEntry{
		{Envelope: outEnv("a"), State: OutboxQueued, QueuedAt: t0},
		{Envelope: outEnv("b"), State: OutboxSent, Attempts: 2, QueuedAt: t0, SentAt: t0, Index: 99},
		{Envelope: outEnv("c"), State: OutboxFailed, Reason: "refused"},
	} {
		b := AppendEnvelope(appendOutboxHeader(nil, &e), &e.Envelope)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{outboxRecordVersion, outboxCodeQueued, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{outboxRecordVersion, outboxCodeSent, 0, 0xfe, 0xff, 0xff, 0x7f})

	f.Fuzz(func(t *testing.T, data []byte) {
		state, stateErr := outboxRecordState(data)
		e, err := decodeOutboxRecord(1, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v is not ErrCorrupt", err)
			}
			return
		}
		if stateErr != nil || state != e.State {
			t.Fatalf("state peek = %q, %v; decode says %q", state, stateErr, e.State)
		}
		if e.Attempts < 0 || e.Attempts > maxAttempts {
			t.Fatalf("decoded Attempts %d", e.Attempts)
		}
		// What decodes re-encodes to the same entry, by both paths.
		b := AppendEnvelope(appendOutboxHeader(nil, &e), &e.Envelope)
		e2, err := decodeOutboxRecord(1, b)
		if err != nil || !sameEntry(e, e2) {
			t.Fatalf("re-decode = %+v, %v; want %+v", e2, err, e)
		}
		h, env, err := splitOutboxRecord(1, data)
		if err != nil {
			t.Fatalf("split failed on a decodable record: %v", err)
		}
		b = append(appendOutboxHeader(nil, &h), env...)
		if e3, err := decodeOutboxRecord(1, b); err != nil || !sameEntry(e, e3) {
			t.Fatalf("header rewrite = %+v, %v; want %+v", e3, err, e)
		}
	})
}

// TestOutboxRecordV1 reads a record written before replies existed.
func TestOutboxRecordV1(t *testing.T) {
	want := OutboxEntry{Envelope: outEnv("old"), State: OutboxQueued, QueuedAt: t0}
	b := AppendEnvelope(appendOutboxHeader(nil, &want), &want.Envelope)
	b[0] = outboxRecordV1
	got, err := decodeOutboxRecord(0, b)
	if err != nil || !sameEntry(got, want) {
		t.Fatalf("version 1 record: %+v, %v", got, err)
	}
}
