package storage

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// benchText is a 1 KiB message text, near the middle of the sizes people send.
var benchText = strings.Repeat("0123456789abcdef", 64)

// BenchmarkApplyMessages measures storing messages, 64 per Apply (one
// transaction and fsync per batch); ns/op is per message.
func BenchmarkApplyMessages(b *testing.B) {
	s := mustOpenAt(&testing.T{}, filepath.Join(b.TempDir(), "state.db"))
	defer s.Close()
	if _, err := s.Apply([]Entry{entry(1, t0, mkChan("general"))}); err != nil {
		b.Fatal(err)
	}
	const batch = 64
	idx := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		es := make([]Entry, 0, batch)
		for j := i; j < min(i+batch, b.N); j++ {
			idx++
			es = append(es, entry(idx, t0, msg(fmt.Sprintf("m%d", j), "general", benchText)))
		}
		if _, err := s.Apply(es); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistory measures reading a page of 100 messages from a channel of
// 10,000; ns/op is per message read.
func BenchmarkHistory(b *testing.B) {
	s := mustOpenAt(&testing.T{}, filepath.Join(b.TempDir(), "state.db"))
	defer s.Close()
	es := []Entry{entry(1, t0, mkChan("general"))}
	for j := range 10000 {
		es = append(es, entry(uint64(j+2), t0, msg(fmt.Sprintf("m%d", j), "general", benchText)))
	}
	if _, err := s.Apply(es); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		if _, err := s.History("general", Query{Before: uint64(5000 + i%4000), Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
}
