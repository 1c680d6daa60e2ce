package search

import (
	"context"
	"fmt"
	"time"

	"concord/storage"
)

// Source is what CatchUp reads: *storage.Store satisfies it. History must
// behave as storage.Store.History: the newest q.Limit messages below seq
// q.Before (0: from the end), in ascending seq order.
type Source interface {
	Channels() ([]storage.Channel, error)
	History(channel string, q storage.Query) ([]storage.Message, error)
}

var _ Source = (*storage.Store)(nil)

// catchUpPage is the most messages CatchUp reads and writes at a time;
// firstPage is the first page's size for each channel.
const (
	catchUpPage = 2000
	firstPage   = 64
)

// CatchUp indexes every message of src with a Raft index above Indexed(),
// then records the highest index seen as covered. Run it on start, before or
// while Add is fed from apply: Adds made during a catch-up are indexed at
// once but only move Indexed when the catch-up completes, so a crash in the
// middle leaves Indexed where it was and the next CatchUp starts over. After
// a failed CatchUp, Indexed stays put until one succeeds.
// It stops early, without recording progress, when ctx is done.
func (ix *Index) CatchUp(ctx context.Context, src Source) error {
	return ix.catchUp(ctx, src, false)
}

// Rebuild empties the index and indexes all of src again, for use after a
// snapshot restore replaced the store's contents. When src has a change
// feed (Changed), the index then follows it from the change that was last
// before the rebuild read the store.
func (ix *Index) Rebuild(ctx context.Context, src Source) error {
	feed, follows := src.(Changed)
	var last uint64
	if follows {
		var err error
		if last, err = feed.LastChange(); err != nil {
			return fmt.Errorf("search: rebuild: %w", err)
		}
	}
	if err := ix.catchUp(ctx, src, true); err != nil {
		return err
	}
	if follows {
		return ix.setFollowed(ctx, last)
	}
	return nil
}

func (ix *Index) catchUp(ctx context.Context, src Source, clear bool) error {
	if ix.isClosed() {
		return ErrClosed
	}
	ix.wmu.Lock()
	if clear {
		if err := ix.clearLocked(ctx); err != nil {
			ix.wmu.Unlock()
			return err
		}
	}
	from := ix.indexed
	ix.catchingUp++
	ix.wmu.Unlock()
	ix.scanMu.Lock()
	defer ix.scanMu.Unlock()
	if clear {
		ix.seen = nil
	}
	start := time.Now()
	high, n, err := ix.scan(ctx, src, from)
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.catchingUp--
	if err == nil {
		err = ix.setIndexedLocked(ctx, max(high, ix.pendingMax))
	}
	if err != nil {
		ix.catchUpFailed = true
		return err
	}
	if ix.catchingUp == 0 {
		ix.catchUpFailed = false
		ix.pendingMax = 0
	}
	if ix.afterCatchUp != nil {
		ix.afterCatchUp(ix.indexed)
	}
	if n > 0 {
		ix.log.Info("caught up", "from", from, "index", ix.indexed, "messages", n, "took", time.Since(start))
	}
	return nil
}

func (ix *Index) clearLocked(ctx context.Context) error {
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("clear", err)
	}
	defer tx.Rollback()
	for _, s := range []string{
		`DELETE FROM msgs`,
		`INSERT INTO fts(fts) VALUES ('delete-all')`,
		`UPDATE meta SET v=0 WHERE k='indexed'`,
		`UPDATE meta SET v=0 WHERE k='changes'`,
	} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return wrap("clear", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap("clear", err)
	}
	ix.indexed, ix.changes = 0, 0
	return nil
}

// scan adds src's messages above from and returns the highest Raft index
// it saw and how many messages it read. It skips a channel whose message
// count is the one a previous scan completed with. Caller holds scanMu. It pages each channel backwards from its end, so a restart reads
// only what the index has not seen (a channel's seq order is its Raft index
// order), and each page is a short read transaction on the store.
func (ix *Index) scan(ctx context.Context, src Source, from uint64) (high uint64, n int, err error) {
	chans, err := src.Channels()
	if err != nil {
		return 0, 0, fmt.Errorf("search: catch up: %w", err)
	}
	high = from
	if ix.seen == nil {
		ix.seen = map[string]uint64{}
	}
	for _, ch := range chans {
		if ix.seen[ch.Name] == ch.Messages && ch.Messages > 0 {
			continue // no new message since the last catch-up
		}
		var before uint64
		// Start small: the usual catch-up (Follow) finds a few new messages.
		limit := min(firstPage, ix.page)
		for {
			if err := ctx.Err(); err != nil {
				return 0, 0, fmt.Errorf("search: catch up: %w", err)
			}
			page, err := src.History(ch.Name, storage.Query{Before: before, Limit: limit})
			if err != nil {
				return 0, 0, fmt.Errorf("search: catch up %q: %w", ch.Name, err)
			}
			var done bool
			page, before, done = trimPage(page, from, limit)
			limit = min(2*limit, ix.page)
			for _, m := range page {
				high = max(high, m.Index)
			}
			n += len(page)
			if err := ix.add(ctx, page, false); err != nil {
				return 0, 0, err
			}
			if done {
				break
			}
		}
		ix.seen[ch.Name] = ch.Messages
	}
	return high, n, nil
}

// trimPage keeps the messages of page above from. When the page is full and
// reaches no older than from, it also leaves out the messages of its oldest
// Raft entry (unless that is the whole page), so that an entry's messages
// are added in one go and keep their order; next is the Before of the next
// page. done says the channel needs no older page.
func trimPage(page []storage.Message, from uint64, size int) (keep []storage.Message, next uint64, done bool) {
	if len(page) == 0 {
		return nil, 0, true
	}
	if page[0].Index <= from || page[0].Seq <= 1 || len(page) < size {
		i := 0
		for i < len(page) && page[i].Index <= from {
			i++
		}
		return page[i:], 0, true
	}
	oldest := page[0].Index
	i := 0
	for i < len(page) && page[i].Index == oldest {
		i++
	}
	if i == len(page) {
		return page, page[0].Seq, false
	}
	return page[i:], page[i].Seq, false
}
