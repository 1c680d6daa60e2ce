package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// digestEntries is a history with every kind of outcome: a channel, new
// messages, a duplicate, a refusal (unknown channel) and an entry without
// ops (a configuration change).
func digestEntries() []Entry {
	es := []Entry{entry(1, t0, mkChan("general"))}
	for i := uint64(2); i <= 40; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		switch {
		case i%10 == 0:
			es = append(es, entry(i, at)) // no ops
		case i%7 == 0:
			es = append(es, entry(i, at, msg("m2", "general", "again"))) // a duplicate
		case i%11 == 0:
			es = append(es, entry(i, at, msg(fmt.Sprintf("x%d", i), "nowhere", "refused")))
		default:
			es = append(es, entry(i, at, msg(fmt.Sprintf("m%d", i), "general", "hi"), msg(fmt.Sprintf("n%d", i), "general", "ho")))
		}
	}
	return es
}

func mustDigests(t *testing.T, s *Store) DigestChain {
	t.Helper()
	c, err := s.Digests()
	if err != nil {
		t.Fatalf("Digests: %v", err)
	}
	return c
}

func TestDigestSameHistoryAnyBatching(t *testing.T) {
	es := digestEntries()
	batchings := []struct {
		name string
		size int
	}{{"one by one", 1}, {"threes", 3}, {"all at once", len(es)}}
	var want DigestChain
	for i, b := range batchings {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t)
			for j := 0; j < len(es); j += b.size {
				mustApply(t, s, es[j:min(j+b.size, len(es))]...)
			}
			// A replayed batch changes nothing.
			mustApply(t, s, es[:5]...)
			c := mustDigests(t, s)
			if c.Base != 0 || c.Applied != 40 || c.Version != DigestVersion {
				t.Fatalf("chain base %d applied %d version %d, want 0, 40, %d", c.Base, c.Applied, c.Version, DigestVersion)
			}
			if i == 0 {
				want = c
				return
			}
			for idx := uint64(0); idx <= 40; idx++ {
				got, ok1 := c.At(idx)
				w, ok2 := want.At(idx)
				if ok1 != ok2 || got != w {
					t.Fatalf("digest at %d differs from one-by-one (%v %x vs %v %x)", idx, ok1, got, ok2, w)
				}
			}
		})
	}
	// Entries without ops do not contribute, the others do.
	if d9, _ := want.At(9); d9 != mustAt(t, want, 10) {
		t.Error("an entry without ops changed the digest")
	}
	if mustAt(t, want, 10) == mustAt(t, want, 11) {
		t.Error("an entry with ops did not change the digest")
	}
}

func mustAt(t *testing.T, c DigestChain, index uint64) [32]byte {
	t.Helper()
	d, ok := c.At(index)
	if !ok {
		t.Fatalf("no digest at %d (chain from %d to %d)", index, c.From(), c.Applied)
	}
	return d
}

// TestDigestShowsDivergence applies one extra entry to one store: from
// there on its digests differ, before they are equal.
func TestDigestShowsDivergence(t *testing.T) {
	es := digestEntries()
	a, b := mustOpen(t), mustOpen(t)
	mustApply(t, a, es[:20]...)
	mustApply(t, b, es[:20]...)
	// b applies, at index 21, a message nobody else has instead of the
	// team's entry: its later messages get other seqs.
	extra := es[20]
	mustApply(t, a, extra)
	mustApply(t, b, entry(extra.Index, extra.CommittedAt, msg("rogue", "general", "only here")))
	mustApply(t, a, es[21:]...)
	mustApply(t, b, es[21:]...)
	ca, cb := mustDigests(t, a), mustDigests(t, b)
	for idx := uint64(1); idx <= 40; idx++ {
		same := mustAt(t, ca, idx) == mustAt(t, cb, idx)
		if same != (idx < extra.Index) {
			t.Errorf("index %d: digests equal = %v", idx, same)
		}
	}

	// A difference in the state, written behind the store's back, shows
	// in the first entry whose outcome it changes: d already knows
	// message ID m5, so entry 5 stores it on c and finds a duplicate on d.
	c, d := mustOpen(t), mustOpen(t)
	mustApply(t, c, es[:4]...)
	mustApply(t, d, es[:4]...)
	err := d.db.Update(func(tx *bolt.Tx) error {
		ids, err := topBucket(tx, bucketIDs)
		if err != nil {
			return err
		}
		return ids.put([]byte("m5"), idValue("general", 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if mustAt(t, mustDigests(t, c), 4) != mustAt(t, mustDigests(t, d), 4) {
		t.Fatal("digests differ before the entry the change affects")
	}
	mustApply(t, c, es[4])
	mustApply(t, d, es[4])
	if mustAt(t, mustDigests(t, c), 5) == mustAt(t, mustDigests(t, d), 5) {
		t.Error("a message stored on one store and a duplicate on the other gave equal digests")
	}
}

func TestDigestRingKeepsLatest(t *testing.T) {
	s := mustOpen(t)
	mustApply(t, s, entry(1, t0, mkChan("general")))
	var es []Entry
	for i := uint64(2); i <= 2+2*DigestRing; i++ {
		es = append(es, entry(i, t0, msg(fmt.Sprintf("m%d", i), "general", "x")))
	}
	mustApply(t, s, es...)
	c := mustDigests(t, s)
	if len(c.Ring) != DigestRing {
		t.Fatalf("ring holds %d pairs, want %d", len(c.Ring), DigestRing)
	}
	if c.From() != c.Applied-DigestRing+1 {
		t.Fatalf("ring from %d, applied %d", c.From(), c.Applied)
	}
	if _, ok := c.At(c.From() - 1); ok {
		t.Error("At answered below the ring")
	}
	if _, ok := c.At(c.Applied + 1); ok {
		t.Error("At answered past the applied index")
	}
	d, ok, err := s.Digest(c.Applied)
	if err != nil || !ok || d != c.Ring[len(c.Ring)-1].Digest {
		t.Fatalf("Digest(applied) = %x, %v, %v", d, ok, err)
	}
}

func TestDigestContinuesAcrossSnapshot(t *testing.T) {
	es := digestEntries()
	src, dst, ref := mustOpen(t), mustOpen(t), mustOpen(t)
	mustApply(t, src, es[:25]...)
	mustApply(t, ref, es...)
	mustApply(t, dst, es[:3]...) // some state of its own, replaced

	sn, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	if err := dst.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	mustApply(t, dst, es[25:]...)
	got, want := mustDigests(t, dst), mustDigests(t, ref)
	if got.Base != 0 {
		t.Fatalf("restored chain base %d, want the snapshot's 0", got.Base)
	}
	for idx := uint64(25); idx <= 40; idx++ {
		if mustAt(t, got, idx) != mustAt(t, want, idx) {
			t.Fatalf("digest at %d after restore differs from a store that applied everything", idx)
		}
	}
}

// dropDigests removes the chain from a closed store's file, as the code
// before digests left it.
func dropDigests(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, fileMode, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyDigests) }); err != nil {
		t.Fatal(err)
	}
}

func TestDigestOldStoreStartsAChain(t *testing.T) {
	es := digestEntries()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(testConfig(t, path))
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, es[:20]...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dropDigests(t, path)

	s = mustOpenAt(t, path)
	if c := mustDigests(t, s); c.Known() || c.Applied != 20 {
		t.Fatalf("chain of a store without digests: %+v, want unknown at 20", c)
	}
	if _, ok, err := s.Digest(20); ok || err != nil {
		t.Fatalf("Digest(20) = ok %v, err %v; want not known", ok, err)
	}
	mustApply(t, s, es[20:]...)
	c := mustDigests(t, s)
	if c.Base != 20 || !c.Known() {
		t.Fatalf("chain base %d known %v, want a chain from 20", c.Base, c.Known())
	}
	if _, ok := c.At(19); ok {
		t.Error("a chain started at 20 answered for 19")
	}
	full := mustOpen(t)
	mustApply(t, full, es...)
	if mustAt(t, c, 30) == mustAt(t, mustDigests(t, full), 30) {
		t.Error("chains from different bases gave the same digest: they must never look comparable")
	}

	// Entries applied by an older release after this code ran leave a
	// stale chain behind: the chain restarts at the applied index.
	s2 := mustOpen(t)
	mustApply(t, s2, es[:10]...)
	err = s2.db.Update(func(tx *bolt.Tx) error {
		meta, err := topBucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		return meta.put(keyApplied, seqKey(12))
	})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s2, es[12:]...)
	if c := mustDigests(t, s2); c.Base != 12 {
		t.Fatalf("chain after a gap: base %d, want 12", c.Base)
	}
}

func TestDigestSchema1StoreOpens(t *testing.T) {
	s := mustOpenAt(t, copySchema1(t))
	applied := s.AppliedIndex()
	if c := mustDigests(t, s); c.Known() {
		t.Fatalf("migrated store has a chain: %+v", c)
	}
	mustApply(t, s, entry(applied+1, t0, msg("after", "general", "new")))
	c := mustDigests(t, s)
	if c.Base != applied || len(c.Ring) != 2 {
		t.Fatalf("chain base %d ring %d, want base %d and 2 pairs", c.Base, len(c.Ring), applied)
	}
}

func TestDecodeDigestChain(t *testing.T) {
	good := DigestChain{Version: 1, Base: 3, Applied: 9, Ring: []IndexDigest{{3, [32]byte{1}}, {7, [32]byte{2}}}}
	c, err := DecodeDigestChain(EncodeDigestChain(good))
	if err != nil || c.Applied != 9 || len(c.Ring) != 2 || c.Ring[1] != good.Ring[1] {
		t.Fatalf("round trip: %+v, %v", c, err)
	}
	bad := []DigestChain{
		{Version: 1, Applied: 9, Ring: []IndexDigest{{7, [32]byte{}}, {3, [32]byte{}}}},
		{Version: 1, Applied: 5, Ring: []IndexDigest{{7, [32]byte{}}}},
	}
	for _, b := range bad {
		if _, err := DecodeDigestChain(EncodeDigestChain(b)); !errors.Is(err, ErrBadEncoding) {
			t.Errorf("%+v: err %v, want ErrBadEncoding", b, err)
		}
	}
	enc := EncodeDigestChain(good)
	for n := range len(enc) {
		if _, err := DecodeDigestChain(enc[:n]); !errors.Is(err, ErrBadEncoding) {
			t.Errorf("truncated to %d: err %v", n, err)
		}
	}
}

func FuzzDecodeDigestChain(f *testing.F) {
	f.Add(EncodeDigestChain(startChain(4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeDigestChain(b)
		if err != nil {
			return
		}
		if _, err := DecodeDigestChain(EncodeDigestChain(c)); err != nil {
			t.Fatalf("re-encoding a decoded chain: %v", err)
		}
	})
}

// BenchmarkDigestAdd measures extending the chain by one entry of one
// 1 KiB message (BenchmarkApplyMessages's entries), without the disk.
func BenchmarkDigestAdd(b *testing.B) {
	ch := newChainer(chainState{}, 0)
	op := msg("m1", "general", benchText)
	res := []Result{{Seq: 1, Channel: "general", CommittedAt: t0}}
	b.ReportAllocs()
	for i := range b.N {
		ch.add(Entry{Index: uint64(i) + 1, CommittedAt: t0, Ops: []Op{op}}, res)
	}
}
