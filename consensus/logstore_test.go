package consensus

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
)

const testSegment = 4 << 10 // small: 25 test entries per segment

func entries(from, to, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: term, Type: raft.LogCommand,
			Data: fmt.Appendf(nil, "entry %d of term %d %0100d", i, term, 0)})
	}
	return out
}

// checkLog asserts that s holds exactly first..last, entry i of the term
// termOf(i).
func checkLog(t *testing.T, s raft.LogStore, first, last uint64, termOf func(uint64) uint64) {
	t.Helper()
	if f, _ := s.FirstIndex(); f != first {
		t.Fatalf("first index %d, want %d", f, first)
	}
	if l, _ := s.LastIndex(); l != last {
		t.Fatalf("last index %d, want %d", l, last)
	}
	for i := first; i <= last; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		want := entries(i, i, termOf(i))[0]
		if got.Term != want.Term || string(got.Data) != string(want.Data) {
			t.Fatalf("entry %d: term %d %q, want term %d", i, got.Term, got.Data, want.Term)
		}
	}
}

// appendEach appends es one entry at a time, as Raft does under light load,
// so the open tail segment holds the newest entries.
func appendEach(t *testing.T, s raft.LogStore, es []*raft.Log) {
	t.Helper()
	for _, e := range es {
		if err := s.StoreLog(e); err != nil {
			t.Fatalf("append %d: %v", e.Index, err)
		}
	}
}

func reopen(t *testing.T, s *logStore, dir string) *logStore {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	return s
}

// A follower drops the tail of its log when a new leader never had it, and
// must restart afterwards (hashicorp/raft-wal#31, which our leader-kill
// process test once hit), also when the truncation crosses segments and
// when it happens twice.
func TestLogStoreReopensAfterTailTruncation(t *testing.T) {
	dir := t.TempDir()
	s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	appendEach(t, s, entries(1, 90, 1))
	// Within the open tail segment.
	if err := s.DeleteRange(87, 90); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(87, 88, 2)); err != nil {
		t.Fatal(err)
	}
	term := func(i uint64) uint64 { return map[bool]uint64{true: 2, false: 1}[i >= 87] }
	checkLog(t, s, 1, 88, term)
	s = reopen(t, s, dir)
	checkLog(t, s, 1, 88, term)

	// Across sealed segments, after a restart, then appending and restarting.
	if err := s.DeleteRange(40, 88); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	checkLog(t, s, 1, 39, func(uint64) uint64 { return 1 })
	if err := s.StoreLogs(entries(40, 120, 3)); err != nil {
		t.Fatal(err)
	}
	term = func(i uint64) uint64 { return map[bool]uint64{true: 3, false: 1}[i >= 40] }
	s = reopen(t, s, dir)
	checkLog(t, s, 1, 120, term)

	// Compaction after a snapshot drops the head, truncated segments too.
	if err := s.DeleteRange(1, 110); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	if f, _ := s.FirstIndex(); f != 111 {
		t.Fatalf("first index after compaction %d, want 111", f)
	}
	checkLog(t, s, 111, 120, term)
}

// TestLogStoreTruncatesRightAfterSeal: a truncation right after the append
// that filled a segment, before raft-wal's background rotation ran.
func TestLogStoreTruncatesRightAfterSeal(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		// One batch larger than a segment: it fills and seals the tail.
		if err := s.StoreLogs(entries(1, 60, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRange(58, 60); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreLogs(entries(58, 59, 2)); err != nil {
			t.Fatalf("round %d: append after truncation: %v", round, err)
		}
		term := func(i uint64) uint64 { return map[bool]uint64{true: 2, false: 1}[i >= 58] }
		checkLog(t, s, 1, 59, term)
		s = reopen(t, s, dir)
		checkLog(t, s, 1, 59, term)
		s.Close()
	}
}

// The upstream bug the filer works around: raft-wal v0.4.0 opened without
// it cannot read its log after a tail truncation and a restart. When this
// fails, a fixed raft-wal is in go.mod and truncatedTailFiler can go.
func TestRaftWALTailTruncationBugIsUpstream(t *testing.T) {
	dir := t.TempDir()
	s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	appendEach(t, s, entries(1, 90, 1))
	if err := s.DeleteRange(87, 90); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	meta := &metadb.BoltMetaDB{}
	defer meta.Close()
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithSegmentSize(testSegment))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := uint64(1); i <= 86; i++ {
		var l raft.Log
		if err := w.GetLog(i, &l); err != nil {
			t.Logf("entry %d: %v", i, err)
			return
		}
	}
	t.Fatal("plain raft-wal read its whole log after a tail truncation: the upstream bug is fixed, walFiler.Open can go")
}

// A data dir from a version that kept the Raft log in raft-boltdb
// (raft/raft.db) is moved into the WAL on start, entries and votes intact.
func TestLogStoreMigratesBoltLog(t *testing.T) {
	dir := t.TempDir()
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.StoreLogs(entries(1, 300, 4)); err != nil {
		t.Fatal(err)
	}
	if err := bolt.DeleteRange(1, 49); err != nil { // compacted after a snapshot
		t.Fatal(err)
	}
	if err := bolt.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if err := bolt.Set([]byte("LastVoteCand"), []byte("peer-a")); err != nil {
		t.Fatal(err)
	}
	if err := bolt.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	checkLog(t, s, 50, 300, func(uint64) uint64 { return 4 })
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 4 {
		t.Fatalf("CurrentTerm %d, %v", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "peer-a" {
		t.Fatalf("LastVoteCand %q, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); !os.IsNotExist(err) {
		t.Fatalf("raft.db still there after the move: %v", err)
	}
	if err := s.StoreLogs(entries(301, 310, 5)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, 50, 310, func(i uint64) uint64 { return map[bool]uint64{true: 5, false: 4}[i > 300] })
}

// A crash after the moved log was renamed into place but before raft.db
// was removed: the next start keeps the WAL, which may have grown since.
func TestLogStoreMigrationCrashAfterRename(t *testing.T) {
	dir := t.TempDir()
	s, err := openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(1, 20, 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.StoreLogs(entries(1, 5, 9)); err != nil { // stale: must not win
		t.Fatal(err)
	}
	bolt.Close()
	s, err = openLogStore(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkLog(t, s, 1, 20, func(uint64) uint64 { return 1 })
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); !os.IsNotExist(err) {
		t.Fatalf("raft.db still there: %v", err)
	}
}

// A crash after an append sealed the tail segment (its index block is
// written with the batch) but before raft-wal's background rotation
// recorded that and created the next segment. raft-wal v0.4.0 reopens such
// a log with a sealed tail that refuses every append (ErrSealed).
func TestLogStoreRecoversSealedTail(t *testing.T) {
	dir := t.TempDir()
	s, err := openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	appendEach(t, s, entries(1, 25, 1)) // the 25th fills and seals segment 1
	if err := s.w.filer.awaitRotation(rotationWait); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the metadata back as it was before the rotation: segment 1 the
	// open tail, and no segment 2.
	meta := &metadb.BoltMetaDB{}
	st, err := meta.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Segments) != 2 || st.Segments[0].MaxIndex != 25 {
		t.Fatalf("segments %+v, want segment 1 sealed at 25 and an empty tail", st.Segments)
	}
	next := st.Segments[1]
	st.Segments = st.Segments[:1]
	st.Segments[0].SealTime, st.Segments[0].MaxIndex, st.Segments[0].IndexStart = time.Time{}, 0, 0
	if err := meta.CommitState(st); err != nil {
		t.Fatal(err)
	}
	meta.Close()
	if err := os.Remove(filepath.Join(dir, segment.FileName(next))); err != nil {
		t.Fatal(err)
	}

	s, err = openWAL(dir, testSegment, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen after a crash mid-rotation: %v", err)
	}
	appendEach(t, s, entries(26, 60, 1))
	checkLog(t, s, 1, 60, func(uint64) uint64 { return 1 })
	s = reopen(t, s, dir)
	defer s.Close()
	checkLog(t, s, 1, 60, func(uint64) uint64 { return 1 })
}
