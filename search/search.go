package search

import (
	"context"
	"fmt"
	"strings"
)

// MaxLimit caps how many hits one Search returns.
const MaxLimit = 1000

// Search returns up to limit messages of the given channels whose text
// contains every word of query, newest first (commit order). limit <= 0
// means 50, and at most MaxLimit are returned. Words match case- and
// accent-insensitively; a word ending in '*' (two letters or more) matches
// as a prefix. An empty query, or one without any letter or digit, gives
// ErrEmptyQuery; an empty channel list gives ErrNoChannels. Pass the
// channels the member may read: the index itself knows no permissions.
func (ix *Index) Search(ctx context.Context, query string, channels []string, limit int) ([]Hit, error) {
	if ix.isClosed() {
		return nil, ErrClosed
	}
	expr := matchExpr(query)
	if expr == "" {
		return nil, ErrEmptyQuery
	}
	if len(channels) == 0 {
		return nil, ErrNoChannels
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxLimit)
	args := make([]any, 0, len(channels)+2)
	args = append(args, expr)
	for _, c := range channels {
		args = append(args, c)
	}
	args = append(args, limit)
	rows, err := ix.db.QueryContext(ctx, searchSQL(len(channels)), args...)
	if err != nil {
		return nil, ix.searchErr(ctx, err)
	}
	defer rows.Close()
	hits := make([]Hit, 0, min(limit, 64))
	for rows.Next() {
		var h Hit
		var seq, idx int64
		if err := rows.Scan(&h.ID, &h.Channel, &seq, &idx); err != nil {
			return nil, ix.searchErr(ctx, err)
		}
		h.Seq, h.Index = uint64(seq), uint64(idx)
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, ix.searchErr(ctx, err)
	}
	return hits, nil
}

func (ix *Index) searchErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("search: %w", ctx.Err())
	}
	if ix.isClosed() {
		return ErrClosed
	}
	return wrap("query", err)
}

// searchSQL is the search statement for n channels. FTS5 walks the doclist
// backwards for ORDER BY rowid DESC, so the query stops after limit rows
// that pass the channel filter instead of sorting every match.
func searchSQL(n int) string {
	return `SELECT m.id, m.channel, m.seq, m.idx FROM fts JOIN msgs m ON m.rid = fts.rowid
		WHERE fts MATCH ? AND m.channel IN (?` + strings.Repeat(",?", n-1) + `)
		ORDER BY fts.rowid DESC LIMIT ?`
}
