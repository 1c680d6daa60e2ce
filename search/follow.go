package search

import (
	"context"
	"fmt"
	"time"

	"concord/storage"
)

// Applied is what Follow watches: *storage.Store satisfies it.
type Applied interface {
	Source
	Changed
	// AppliedIndex is the Raft index of the last entry the store applied.
	AppliedIndex() uint64
	// WaitApplied blocks until AppliedIndex() >= index or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
}

var _ Applied = (*storage.Store)(nil)

// Follow keeps the index up to date with src until ctx ends: it catches up
// (and follows the edits and deletions since, FollowChanges),
// waits for the store to apply more, catches up again, and so on. Bursts of
// applies coalesce into one catch-up, so a busy store never waits for the
// index; each catch-up reads only the channels that grew. With gap > 0 it
// catches up at most once per gap, so that under a burst indexing works in
// larger batches and leaves the CPU to the log. It returns ctx's error when
// ctx ends, and a catch-up's or the store's error otherwise (ErrCorrupt:
// Close, Remove, Open and Follow again).
func (ix *Index) Follow(ctx context.Context, src Applied, gap time.Duration) error {
	if err := ix.startFollowing(ctx, src); err != nil {
		return err
	}
	for {
		next := src.AppliedIndex()
		if err := ix.CatchUp(ctx, src); err != nil {
			return err
		}
		if err := ix.FollowChanges(ctx, src); err != nil {
			return err
		}
		if err := src.WaitApplied(ctx, next+1); err != nil {
			return fmt.Errorf("search: follow: %w", err)
		}
		if gap > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("search: follow: %w", ctx.Err())
			case <-time.After(gap):
			}
		}
	}
}
