package storage

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fuzzEntries spreads ops over entries of size 1..4 whose leader stamps jump
// back and forth, so the commit-time rule is exercised too.
func fuzzEntries(ops []Op, shape uint8) []Entry {
	size := int(shape%4) + 1
	var entries []Entry
	for i := 0; i < len(ops); i += size {
		idx := uint64(len(entries) + 1)
		skew := time.Duration(int64(idx*7919%13)-6) * time.Second
		entries = append(entries, Entry{Index: idx, CommittedAt: t0.Add(skew), Ops: ops[i:min(i+size, len(ops))]})
	}
	return entries
}

// applyInBatches applies entries in batches of n, returning the results in
// entry order.
func applyInBatches(t *testing.T, s *Store, entries []Entry, n int) [][]Result {
	t.Helper()
	var out [][]Result
	for i := 0; i < len(entries); i += n {
		res, err := s.Apply(entries[i:min(i+n, len(entries))])
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		out = append(out, res...)
	}
	return out
}

func FuzzApply(f *testing.F) {
	seed := func(ops ...Op) {
		b, err := json.Marshal(ops)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(3))
	}
	seed(mkChan("general"), msg("a", "general", "hi"), msg("a", "general", "again"), msg("b", "general", "yo"))
	seed(msg("x", "general", "too early"), mkChan("general"), msg("x", "general", "now"), mkChan("general"))
	seed(mkChan("a"), mkChan("b"), msg("1", "a", "t"), msg("1", "b", "t"), msg("2", "b", "t"), msg("", "a", "t"))
	seed(addMember("p1", "ann", ""), addMember("p1", "anne", RoleAdmin), Op{Kind: 7}, Op{Kind: OpMessage})
	f.Add([]byte(`[{"k":2,"c":"g"},{"k":1,"m":{"id":"i","author":"a","channel":"g","text":"t"}}]`), uint8(1))

	f.Fuzz(func(t *testing.T, data []byte, shape uint8) {
		var ops []Op
		if json.Unmarshal(data, &ops) != nil || len(ops) > 256 {
			return
		}
		entries := fuzzEntries(ops, shape)
		dir := t.TempDir()
		open := func(name string) *Store {
			s, err := Open(Config{Path: filepath.Join(dir, name)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		s, other := open("a.db"), open("b.db")

		res := applyInBatches(t, s, entries, 3)
		checkInvariants(t, s, entries, res)

		// Batching is not part of the replicated state: one big batch
		// must give the same results and the same state.
		if res2 := applyInBatches(t, other, entries, len(entries)+1); !reflect.DeepEqual(res, res2) {
			t.Fatalf("results depend on batching:\n%+v\n%+v", res, res2)
		}
		if a, b := stateOf(t, s), stateOf(t, other); !reflect.DeepEqual(a, b) {
			t.Fatalf("state depends on batching:\n%+v\n%+v", a, b)
		}

		// Replaying the log is a no-op.
		before := stateOf(t, s)
		for i, r := range applyInBatches(t, s, entries, 2) {
			if r != nil {
				t.Fatalf("replayed entry %d applied again: %+v", i+1, r)
			}
		}
		if after := stateOf(t, s); !reflect.DeepEqual(before, after) {
			t.Fatal("replay changed the state")
		}
	})
}

// checkInvariants compares the store against a model built from the results.
func checkInvariants(t *testing.T, s *Store, entries []Entry, res [][]Result) {
	t.Helper()
	type where struct {
		channel string
		seq     uint64
	}
	stored := map[string]where{} // ID -> place, from results
	var lastCommit time.Time
	for i, e := range entries {
		if len(res[i]) != len(e.Ops) {
			t.Fatalf("entry %d: %d results for %d ops", e.Index, len(res[i]), len(e.Ops))
		}
		for j, op := range e.Ops {
			r := res[i][j]
			if r.Err == "" && (op.Kind == OpMessage && !r.Dup || op.Kind == OpCreateChannel) {
				if !r.CommittedAt.After(lastCommit) {
					t.Fatalf("entry %d op %d: commit time %v not after %v", e.Index, j, r.CommittedAt, lastCommit)
				}
				lastCommit = r.CommittedAt
			}
			if op.Kind != OpMessage || r.Err != "" {
				continue
			}
			w, seen := stored[op.Message.ID]
			switch {
			case r.Dup && (!seen || w != where{r.Channel, r.Seq}):
				t.Fatalf("entry %d op %d: dup %+v of %q, stored at %+v (seen %v)", e.Index, j, r, op.Message.ID, w, seen)
			case !r.Dup && seen:
				t.Fatalf("entry %d op %d: %q stored twice", e.Index, j, op.Message.ID)
			case !r.Dup:
				stored[op.Message.ID] = where{r.Channel, r.Seq}
			}
		}
	}
	if len(entries) > 0 && s.AppliedIndex() != entries[len(entries)-1].Index {
		t.Fatalf("AppliedIndex = %d, want %d", s.AppliedIndex(), entries[len(entries)-1].Index)
	}
	if !s.LastCommit().Equal(lastCommit) {
		t.Fatalf("LastCommit = %v, want %v", s.LastCommit(), lastCommit)
	}

	chans, err := s.Channels()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, ch := range chans {
		h := mustHistory(t, s, ch.Name)
		if uint64(len(h)) != ch.Messages {
			t.Fatalf("channel %s: %d messages, count says %d", ch.Name, len(h), ch.Messages)
		}
		for i, m := range h {
			if m.Seq != uint64(i+1) {
				t.Fatalf("channel %s: seqs not contiguous at %d: %d", ch.Name, i+1, m.Seq)
			}
			if w := stored[m.ID]; w != (where{ch.Name, m.Seq}) {
				t.Fatalf("message %s/%d (%q) not what Apply reported: %+v", ch.Name, m.Seq, m.ID, w)
			}
			if got, err := s.Lookup(m.ID); err != nil || !reflect.DeepEqual(got, m) {
				t.Fatalf("Lookup(%q) = %+v, %v; want %+v", m.ID, got, err, m)
			}
		}
		total += len(h)
	}
	if total != len(stored) {
		t.Fatalf("%d messages stored, %d reported", total, len(stored))
	}
}
