package search

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"concord/storage"
)

// candidate is one full-text library under measurement.
type candidate interface {
	add(msgs []storage.Message) error
	search(ctx context.Context, query string, channels []string, limit int) (int, error)
	close() error
}

type openFunc func(dir string) (candidate, error)

// candidates lists the configurations compared. bleve v2 was measured here
// too and lost (docs/benchmarks.md, "Search"); its adapter left with the
// dependency and is in the branch history as search/bleve_bench_test.go.
var candidates = map[string]openFunc{
	"sqlite": func(dir string) (candidate, error) {
		ix, err := Open(Config{Dir: dir})
		return sqliteCandidate{ix}, err
	},
	"sqlite-noprefix": func(dir string) (candidate, error) {
		ix, err := open(Config{Dir: dir}, "")
		return sqliteCandidate{ix}, err
	},
}

type sqliteCandidate struct{ ix *Index }

func (c sqliteCandidate) add(msgs []storage.Message) error { return c.ix.Add(msgs) }
func (c sqliteCandidate) close() error                     { return c.ix.Close() }
func (c sqliteCandidate) search(ctx context.Context, q string, chans []string, limit int) (int, error) {
	hits, err := c.ix.Search(ctx, q, chans, limit)
	return len(hits), err
}

const (
	benchSeed     = 7
	benchVocab    = 50_000
	benchChannels = 8
)

func candidateNames() []string {
	names := make([]string, 0, len(candidates))
	for n := range candidates {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BenchmarkIndex100k indexes 100,000 messages into a fresh index per
// iteration, in batches like the ones apply hands over.
func BenchmarkIndex100k(b *testing.B) {
	const total = 100_000
	for _, name := range candidateNames() {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				msgs := newCorpus(benchSeed, benchVocab, benchChannels).batch(total)
				var elapsed time.Duration
				for i := 0; b.Loop(); i++ {
					dir := filepath.Join(b.TempDir(), strconv.Itoa(i))
					c, err := candidates[name](dir)
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					for j := 0; j < total; j += batch {
						if err := c.add(msgs[j:min(j+batch, total)]); err != nil {
							b.Fatal(err)
						}
					}
					elapsed += time.Since(start)
					if err := c.close(); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(dirSize(b, dir))/(1<<20), "MiB")
				}
				b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "msgs/s")
			})
		}
	}
}

// queryKind is one kind of search a user makes; each has a few variants so
// that one cached doclist does not flatter the numbers.
type queryKind struct {
	name     string
	queries  []string
	channels int // how many channels the member searches (smallest last)
}

func queryKinds(c *corpus) []queryKind {
	v := c.vocab
	return []queryKind{
		{"common", []string{v[3], v[5], v[8], v[12], v[20]}, benchChannels},
		{"common_1chan", []string{v[3], v[5], v[8], v[12], v[20]}, 1},
		{"rare", []string{v[20000], v[25000], v[30000], v[35000], v[40000]}, benchChannels},
		{"two_words", []string{v[40] + " " + v[200], v[60] + " " + v[300], v[100] + " " + v[150], v[250] + " " + v[500], v[80] + " " + v[1000]}, benchChannels},
		{"two_common", []string{v[3] + " " + v[5], v[8] + " " + v[12], v[4] + " " + v[20]}, benchChannels},
		{"prefix", []string{"kalo*", "dak*", "sel*", "vorpi*", "gre*"}, benchChannels},
		{"absent", []string{"zzqxv", "qqqqq"}, benchChannels},
	}
}

// BenchmarkQuery1M builds (or reuses, with SEARCH_BENCH_DIR) a 1,000,000
// message index per candidate and reports query latency percentiles. Run one
// candidate per process to read its RSS: -bench 'Query1M/sqlite'.
func BenchmarkQuery1M(b *testing.B) {
	const total = 1_000_000
	for _, name := range candidateNames() {
		b.Run(name, func(b *testing.B) {
			root := os.Getenv("SEARCH_BENCH_DIR")
			if root == "" {
				root = b.TempDir()
			}
			dir := filepath.Join(root, name+"-1m")
			corp := newCorpus(benchSeed, benchVocab, benchChannels)
			fresh := false
			if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
				os.RemoveAll(dir)
				fresh = true
			}
			c, err := candidates[name](dir)
			if err != nil {
				b.Fatal(err)
			}
			defer c.close()
			if fresh {
				start := time.Now()
				for j := 0; j < total; j += 1000 {
					if err := c.add(corp.batch(1000)); err != nil {
						b.Fatal(err)
					}
				}
				b.Logf("%s: built 1M in %v (%.0f msgs/s, batch 1000)", name, time.Since(start), total/time.Since(start).Seconds())
				os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600)
			}
			b.Logf("%s: index %.1f MiB; %s", name, float64(dirSize(b, dir))/(1<<20), rss())
			for _, k := range queryKinds(corp) {
				b.Run(k.name, func(b *testing.B) {
					chans := corp.channels[benchChannels-k.channels:]
					ctx := context.Background()
					var lat []time.Duration
					hits := 0
					for i := 0; b.Loop(); i++ {
						q := k.queries[i%len(k.queries)]
						start := time.Now()
						n, err := c.search(ctx, q, chans, 20)
						lat = append(lat, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						hits += n
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
				})
			}
			b.Logf("%s: after queries %s", name, rss())
		})
	}
}

func dirSize(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// rss reports the process's resident set and its peak from /proc.
func rss() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "rss unknown"
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ")
}
