package search

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"concord/storage"
)

var quiet = slog.New(slog.DiscardHandler)

// storeWith applies n corpus messages to a new storage.Store.
func storeWith(b *testing.B, c *corpus, n int) *storage.Store {
	b.Helper()
	st, err := storage.Open(storage.Config{Path: filepath.Join(b.TempDir(), "state.db"), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	at := time.Unix(1_700_000_000, 0)
	var ops []storage.Op
	for _, ch := range c.channels {
		ops = append(ops, storage.Op{Kind: storage.OpCreateChannel, Channel: ch})
	}
	entries := []storage.Entry{{Index: 1, CommittedAt: at, Ops: ops}}
	index := uint64(1)
	for i := 0; i < n; i += 8 {
		var ops []storage.Op
		for range 8 {
			m := c.next()
			env := m.Envelope
			ops = append(ops, storage.Op{Kind: storage.OpMessage, Message: &env})
		}
		index++
		entries = append(entries, storage.Entry{Index: index, CommittedAt: at, Ops: ops})
		if len(entries) == 256 || i+8 >= n {
			if _, err := st.Apply(entries); err != nil {
				b.Fatal(err)
			}
			at = at.Add(time.Second)
			entries = entries[:0]
		}
	}
	return st
}

// BenchmarkCatchUpStore measures what a member pays on start: indexing a
// 100,000-message store from scratch (first run after an upgrade), and the
// incremental catch-up Follow does after one applied entry.
func BenchmarkCatchUpStore(b *testing.B) {
	const total = 100_000
	c := newCorpus(benchSeed, benchVocab, benchChannels)
	st := storeWith(b, c, total)
	b.Run("full", func(b *testing.B) {
		var elapsed time.Duration
		for i := 0; b.Loop(); i++ {
			ix, err := Open(Config{Dir: filepath.Join(b.TempDir(), strconv.Itoa(i)), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := ix.CatchUp(context.Background(), st); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			ix.Close()
		}
		b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "msgs/s")
	})
	b.Run("one_entry", func(b *testing.B) {
		ix, err := Open(Config{Dir: b.TempDir(), Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer ix.Close()
		if err := ix.CatchUp(context.Background(), st); err != nil {
			b.Fatal(err)
		}
		index := st.AppliedIndex()
		at := time.Unix(1_800_000_000, 0)
		for b.Loop() {
			b.StopTimer()
			index++
			m := c.next()
			env := m.Envelope
			if _, err := st.Apply([]storage.Entry{{Index: index, CommittedAt: at, Ops: []storage.Op{{Kind: storage.OpMessage, Message: &env}}}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := ix.CatchUp(context.Background(), st); err != nil {
				b.Fatal(err)
			}
		}
		if ix.Indexed() != index {
			b.Fatalf("Indexed = %d, want %d", ix.Indexed(), index)
		}
	})
}
