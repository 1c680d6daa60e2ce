package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"concord/storage"
)

// Edits and deletions change what a message says after it was indexed.
// The store numbers them in its change feed (storage.Store.Changes); the
// index remembers the last change it followed (meta 'changes') and, after
// each catch-up, re-indexes the messages changed since: an edited message
// is found by its new words only, a deleted one not at all. A reader that
// fell further behind than the feed keeps is told so and rebuilds.

// Changed is the change feed Follow reads: *storage.Store satisfies it.
type Changed interface {
	// Changes returns up to limit changes numbered above after, oldest
	// first; complete is false when some right after after are gone.
	Changes(after uint64, limit int) ([]storage.Change, bool, error)
	// LastChange is the number of the latest change.
	LastChange() (uint64, error)
	// Lookup returns the message with this ID as it reads now.
	Lookup(id string) (storage.Message, error)
}

var _ Changed = (*storage.Store)(nil)

// changesPage is how many changes one transaction re-indexes.
const changesPage = 500

// Followed returns the number of the last change the index followed.
func (ix *Index) Followed() uint64 {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.changes
}

// FollowChanges re-indexes the messages changed since the last change the
// index followed. Call it after CatchUp (so that the messages changed are
// indexed): a changed message the index does not hold yet is left to the
// catch-up that adds it, which reads its current text. When the feed no
// longer has the changes the index needs, it rebuilds the index from src.
func (ix *Index) FollowChanges(ctx context.Context, src interface {
	Source
	Changed
}) error {
	for {
		after := ix.Followed()
		page, complete, err := src.Changes(after, changesPage)
		if err != nil {
			return fmt.Errorf("search: follow changes: %w", err)
		}
		if !complete {
			ix.log.Warn("missed changes to messages: rebuilding the index", "after", after)
			return ix.Rebuild(ctx, src)
		}
		if len(page) == 0 {
			return nil
		}
		if err := ix.applyChanges(ctx, src, page); err != nil {
			return err
		}
	}
}

// startFollowing makes an empty index follow changes from the store's
// latest one: the catch-up that fills it reads current texts.
func (ix *Index) startFollowing(ctx context.Context, src Changed) error {
	if ix.Indexed() != 0 || ix.Followed() != 0 {
		return nil
	}
	last, err := src.LastChange()
	if err != nil {
		return fmt.Errorf("search: follow changes: %w", err)
	}
	return ix.setFollowed(ctx, last)
}

func (ix *Index) setFollowed(ctx context.Context, n uint64) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if _, err := ix.db.ExecContext(ctx, `UPDATE meta SET v=? WHERE k='changes'`, int64(n)); err != nil {
		return wrap("follow changes", err)
	}
	ix.changes = n
	return nil
}

// applyChanges re-indexes the messages of page in one transaction, with
// the number of its last change.
func (ix *Index) applyChanges(ctx context.Context, src Changed, page []storage.Change) error {
	if ix.isClosed() {
		return ErrClosed
	}
	// Read the texts first: the store's reads need no index lock.
	msgs := make(map[string]storage.Message, len(page))
	for _, c := range page {
		m, err := src.Lookup(c.ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("search: follow changes: %w", err)
		}
		msgs[c.ID] = m // a zero message (not found) is dropped from the index
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("follow changes", err)
	}
	defer tx.Rollback()
	done := map[string]bool{}
	for _, c := range page {
		if done[c.ID] {
			continue
		}
		done[c.ID] = true
		if err := reindex(ctx, tx, c.ID, msgs[c.ID]); err != nil {
			return err
		}
	}
	last := page[len(page)-1].N
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET v=? WHERE k='changes'`, int64(last)); err != nil {
		return wrap("follow changes", err)
	}
	if err := tx.Commit(); err != nil {
		return wrap("follow changes", err)
	}
	ix.changes = last
	return nil
}

// reindex replaces the indexed words of message id by those of m (none
// when m is deleted or unknown). A message not indexed yet is left alone.
func reindex(ctx context.Context, tx *sql.Tx, id string, m storage.Message) error {
	var rid int64
	switch err := tx.QueryRowContext(ctx, `SELECT rid FROM msgs WHERE id = ?`, id).Scan(&rid); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return wrap("follow changes", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM fts WHERE rowid = ?`, rid); err != nil {
		return wrap("follow changes", err)
	}
	if m.ID == "" || m.Deleted || m.Text == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO fts(rowid, text) VALUES (?, ?)`, rid, m.Text); err != nil {
		return wrap("follow changes", err)
	}
	return nil
}
