package search

import (
	"context"
	"sync"
	"testing"
)

// TestConcurrentAddSearch runs writers and readers at once; run with -race.
func TestConcurrentAddSearch(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	c := newCorpus(9, 2000, 4)
	const writers, readers, rounds = 2, 3, 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	// The corpus is not safe for concurrent use: make the batches first.
	msgs := c.batch(writers * rounds * 50)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				lo := (w*rounds + r) * 50
				if err := ix.Add(msgs[lo : lo+50]); err != nil {
					errs <- err
					return
				}
				// replays from the other writer's range are harmless
				if err := ix.Add(msgs[lo/2 : lo/2+10]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for i := range work {
				if _, err := ix.Search(ctx, c.vocab[i%50]+" "+c.vocab[(i*7)%300]+"*", c.channels, 20); err != nil {
					errs <- err
					return
				}
				_ = ix.Indexed()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for i := 0; ; i++ {
		select {
		case work <- i:
			continue
		case <-done:
		}
		break
	}
	close(work)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, want := len(indexedIDs(t, ix)), writers*rounds*50; got != want {
		t.Fatalf("indexed %d messages, want %d", got, want)
	}
}
