package bench

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
)

// BenchmarkLogStore measures StoreLogs of 256-byte entries, one op being one
// batch, on the candidate log stores with fsync on; "entries/s" is the
// figure to compare.
func BenchmarkLogStore(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) raft.LogStore
	}{
		{"wal", openWAL},
		{"boltdb", openBolt},
		// Concord's raft.db options on a log compacted as a busy team's is
		// (100k entries written, 90k deleted: thousands of free pages),
		// with and without bbolt syncing its freelist at every commit.
		{"boltdb-compacted-nofreelistsync", openCompacted(true)},
		{"boltdb-compacted-freelistsync", openCompacted(false)},
	}
	for _, s := range stores {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", s.name, batch), func(b *testing.B) {
				benchStoreLogs(b, s.open(b), batch)
			})
		}
	}
}

func benchStoreLogs(b *testing.B, store raft.LogStore, batch int) {
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	logs := make([]*raft.Log, batch)
	for i := range logs {
		logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data}
	}
	next := uint64(1)
	b.SetBytes(int64(batch * len(data)))
	b.ResetTimer()
	for b.Loop() {
		for _, l := range logs {
			l.Index = next
			next++
		}
		if err := store.StoreLogs(logs); err != nil {
			b.Fatalf("StoreLogs: %v", err)
		}
	}
	b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "entries/s")
}

func openWAL(b *testing.B) raft.LogStore {
	w, err := raftwal.Open(b.TempDir())
	if err != nil {
		b.Fatalf("raftwal.Open: %v", err)
	}
	b.Cleanup(func() { _ = w.Close() })
	return w
}

func openBolt(b *testing.B) raft.LogStore {
	s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(b.TempDir(), "raft.db")})
	if err != nil {
		b.Fatalf("raftboltdb.New: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// openCompacted opens a raft-boltdb store with Concord's options (the
// freelist synced or not) holding a compacted log, continuing after it.
func openCompacted(noFreelistSync bool) func(b *testing.B) raft.LogStore {
	return func(b *testing.B) raft.LogStore {
		s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(b.TempDir(), "raft.db"), BoltOptions: &bbolt.Options{
			Timeout: time.Second, NoFreelistSync: noFreelistSync, FreelistType: bbolt.FreelistMapType}})
		if err != nil {
			b.Fatalf("raftboltdb.New: %v", err)
		}
		b.Cleanup(func() { _ = s.Close() })
		data := make([]byte, 256)
		logs := make([]*raft.Log, 1000)
		for i := uint64(0); i < 100; i++ {
			for j := range logs {
				logs[j] = &raft.Log{Index: i*1000 + uint64(j) + 1, Term: 1, Type: raft.LogCommand, Data: data}
			}
			if err := s.StoreLogs(logs); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.DeleteRange(1, 90_000); err != nil {
			b.Fatal(err)
		}
		return &offsetStore{LogStore: s, base: 100_000}
	}
}

// offsetStore shifts the indexes benchStoreLogs writes past a prefilled log.
type offsetStore struct {
	raft.LogStore
	base uint64
}

func (o *offsetStore) StoreLogs(logs []*raft.Log) error {
	for _, l := range logs {
		l.Index += o.base
	}
	err := o.LogStore.StoreLogs(logs)
	for _, l := range logs {
		l.Index -= o.base
	}
	return err
}
