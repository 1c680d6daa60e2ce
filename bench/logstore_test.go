package bench

import (
	"fmt"
	"path/filepath"
	"testing"

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
