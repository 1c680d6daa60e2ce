package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"concord/consensus"
	"concord/storage"
)

// BenchmarkEndToEnd measures what a person feels: the time from Send on
// one member (a follower) to the message being readable on each other
// member (applied to its state: History returns it), for teams of 3 and 5,
// at idle and with 100 and 1,000 msgs/s of background traffic from every
// member. 200 probes per row, one after another; p50/p99/max over every
// (probe, other member) pair.
func BenchmarkEndToEnd(b *testing.B) {
	for _, n := range []int{3, 5} {
		for _, rate := range []int{0, 100, 1000} {
			b.Run(fmt.Sprintf("members=%d/bg=%d", n, rate), func(b *testing.B) {
				for range b.N {
					p50, p99, maxd, sent := endToEnd(b, n, rate, 200)
					b.ReportMetric(ms(p50), "p50_ms")
					b.ReportMetric(ms(p99), "p99_ms")
					b.ReportMetric(ms(maxd), "max_ms")
					b.ReportMetric(float64(sent), "bg_msgs")
					b.Logf("e2e members=%d background=%d msgs/s per member: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d background messages)",
						n, rate, ms(p50), ms(p99), ms(maxd), sent)
				}
			})
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// endToEnd runs probes on a new team of n with production timing while
// every member sends rate msgs/s in the background.
func endToEnd(b *testing.B, n, rate, probes int) (p50, p99, maxd time.Duration, sent int) {
	c := newTestClusterWith(b, n, consensus.Timing{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bg sync.WaitGroup
	var mu sync.Mutex
	if rate > 0 {
		for i, nd := range c.nodes {
			bg.Add(1)
			go func() {
				defer bg.Done()
				t := time.NewTicker(time.Second / time.Duration(rate))
				defer t.Stop()
				k := 0
				for {
					select {
					case <-ctx.Done():
						mu.Lock()
						sent += k
						mu.Unlock()
						return
					case <-t.C:
					}
					if _, err := nd.SendNoWait(ctx, "general", fmt.Sprintf("background m%d #%d", i, k)); err == nil {
						k++
					}
				}
			}()
		}
	}
	defer bg.Wait()
	defer cancel()
	from := (max(c.leader(), 0) + 1) % n // a follower: its send is forwarded
	text := strings.Repeat("x", 64)
	var lat, ldr []time.Duration
	lead := c.leader()
	for range probes {
		id := newMessageID()
		var wg sync.WaitGroup
		got := make([]time.Duration, n)
		start := time.Now()
		for i, nd := range c.nodes {
			if i == from {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = readableAt(ctx, nd, id).Sub(start)
			}()
		}
		env := storage.Envelope{ID: id, Channel: "general", Text: text}
		if _, _, err := c.nodes[from].deliver(ctx, env, true); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		for i, d := range got {
			if i != from {
				lat = append(lat, d)
			}
			if i == lead {
				ldr = append(ldr, d)
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(ldr)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	if len(ldr) > 0 {
		b.Logf("e2e members=%d background=%d: on the leader alone p50 %.2f ms, p99 %.2f ms", n, rate,
			ms(ldr[len(ldr)/2]), ms(ldr[min(len(ldr)-1, len(ldr)*99/100)]))
	}
	cancel()
	bg.Wait()
	return q(0.50), q(0.99), lat[len(lat)-1], sent
}

// readableAt waits until message id is in nd's state and says when.
func readableAt(ctx context.Context, nd *Node, id string) time.Time {
	for {
		applied := nd.store.AppliedIndex()
		if _, err := nd.store.Lookup(id); err == nil {
			return time.Now()
		}
		if err := nd.store.WaitApplied(ctx, applied+1); err != nil {
			return time.Now()
		}
	}
}
