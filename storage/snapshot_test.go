package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// populated returns a store with channels, messages and members.
func populated(t *testing.T) *Store {
	t.Helper()
	s := mustOpen(t)
	mustApply(t, s,
		entry(1, t0, mkChan("general"), mkChan("random"), addMember("p1", "ann", RoleAdmin)),
		entry(2, t0, addMember("p2", "bob", "")),
	)
	var entries []Entry
	for i := range 30 {
		ch := []string{"general", "random"}[i%3/2]
		entries = append(entries, entry(uint64(i+3), t0.Add(time.Duration(i)*time.Second),
			msg(fmt.Sprintf("id-%d", i), ch, fmt.Sprintf("message %d", i))))
	}
	mustApply(t, s, entries...)
	return s
}

func snapshotBytes(t *testing.T, s *Store) []byte {
	t.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v (buffer %d)", n, err, buf.Len())
	}
	return buf.Bytes()
}

// state is everything a reader can see, for comparing stores.
type state struct {
	Applied  uint64
	Last     time.Time
	Channels []Channel
	History  map[string][]Message
	Members  []Member
}

func stateOf(t *testing.T, s *Store) state {
	t.Helper()
	st := state{Applied: s.AppliedIndex(), Last: s.LastCommit(), History: map[string][]Message{}}
	var err error
	if st.Channels, err = s.Channels(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range st.Channels {
		st.History[ch.Name] = mustHistory(t, s, ch.Name)
	}
	if st.Members, err = s.Members(); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSnapshotRestore(t *testing.T) {
	src := populated(t)
	snap := snapshotBytes(t, src)
	want := stateOf(t, src)

	dst := mustOpen(t)
	mustApply(t, dst, entry(1, t0, mkChan("stale"))) // replaced wholesale
	if err := dst.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := stateOf(t, dst); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored state differs:\n got %+v\nwant %+v", got, want)
	}
	if _, err := os.Stat(dst.cfg.restorePath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("restore side file left behind: %v", err)
	}

	// Both stores continue identically from the snapshot.
	next := entry(want.Applied+1, t0, msg("after", "general", "hello"), msg("id-3", "general", "dup"))
	a, b := mustApply(t, src, next), mustApply(t, dst, next)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("results diverge after restore: %+v vs %+v", a, b)
	}
	if !b[0][1].Dup {
		t.Fatalf("dedup index not restored: %+v", b[0][1])
	}
	if got, want := stateOf(t, dst), stateOf(t, src); !reflect.DeepEqual(got, want) {
		t.Fatal("states diverge after applying the same entry")
	}

	// The restored file survives a reopen.
	path := dst.cfg.Path
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, mustOpenAt(t, path)); !reflect.DeepEqual(got, stateOf(t, src)) {
		t.Fatal("state differs after reopening the restored store")
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	s := populated(t)
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	at := sn.AppliedIndex()
	mustApply(t, s, entry(at+1, t0, msg("later", "general", "not in snapshot")))
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	sn.Release() // idempotent
	if _, err := sn.WriteTo(io.Discard); err == nil {
		t.Fatal("WriteTo after Release succeeded")
	}

	dst := mustOpen(t)
	if err := dst.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if dst.AppliedIndex() != at {
		t.Fatalf("AppliedIndex = %d, want %d", dst.AppliedIndex(), at)
	}
	if _, err := dst.Lookup("later"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup(later) = %v, want ErrNotFound", err)
	}
}

type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestRestoreBadInput(t *testing.T) {
	good := snapshotBytes(t, populated(t))
	foreign := func() []byte {
		path := filepath.Join(t.TempDir(), "foreign.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
		if cerr := db.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	flipped := bytes.Clone(good)
	for i := 3 * 4096; i < len(flipped); i += 97 {
		flipped[i] ^= 0xff
	}

	tests := []struct {
		name    string
		r       io.Reader
		corrupt bool // error must be ErrCorrupt (else any error will do)
	}{
		{"garbage", bytes.NewReader(bytes.Repeat([]byte("garbage!"), 4096)), true},
		{"empty", bytes.NewReader(nil), true},
		{"short", bytes.NewReader([]byte("x")), true},
		{"truncated", bytes.NewReader(good[:len(good)/2]), true},
		{"foreign bolt file", bytes.NewReader(foreign), true},
		{"damaged pages", bytes.NewReader(flipped), true},
		{"reader fails", &failingReader{r: bytes.NewReader(good), n: len(good) / 3}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := populated(t)
			before := stateOf(t, s)
			err := s.Restore(tc.r)
			if err == nil {
				t.Fatal("Restore succeeded")
			}
			t.Logf("Restore: %v", err)
			if tc.corrupt && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if got := stateOf(t, s); !reflect.DeepEqual(got, before) {
				t.Fatal("failed Restore changed the state")
			}
			if _, err := os.Stat(s.cfg.restorePath()); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("restore side file left behind: %v", err)
			}
			res := mustApply(t, s, entry(before.Applied+1, t0, msg("still-works", "general", "ok")))
			if res[0][0].Err != "" || res[0][0].Seq == 0 {
				t.Fatalf("Apply after failed Restore: %+v", res[0][0])
			}
		})
	}
}

func TestRestoreWakesWaiters(t *testing.T) {
	snap := snapshotBytes(t, populated(t))
	s := mustOpen(t)
	done := make(chan error, 1)
	go func() { done <- s.WaitApplied(t.Context(), 10) }()
	if err := s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitApplied: %v", err)
	}
}

// TestReadsDuringRestore runs readers and snapshots against repeated
// restores; under -race this checks the db swap is properly guarded.
func TestReadsDuringRestore(t *testing.T) {
	s := populated(t)
	snap := snapshotBytes(t, s)
	want := stateOf(t, s)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := s.History("general", Query{Limit: 5})
				if err == nil && len(h) != 5 {
					err = fmt.Errorf("history has %d messages", len(h))
				}
				if err == nil {
					var sn *Snapshot
					if sn, err = s.Snapshot(); err == nil {
						_, err = sn.WriteTo(io.Discard)
						sn.Release()
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 5 {
		if err := s.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatal("state changed across identical restores")
	}
}
