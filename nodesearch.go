package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"concord/search"
	"concord/storage"
)

// Full-text search: DATA/search.db (SQLite FTS5) follows the store in the
// background; a new message is searchable a few ms after it is applied.
// Private conversations are stored sealed, so they are not searchable.

// openSearch opens the index, starting over when the file is damaged (it
// is derived from the store, so nothing is lost).
func openSearch(dir string, n *Node) (*search.Index, error) {
	cfg := search.Config{Dir: dir, Logger: n.cfg.Logger}
	ix, err := search.Open(cfg)
	if errors.Is(err, search.ErrCorrupt) {
		n.log.Warn("search index damaged: rebuilding it", "err", err)
		if err := search.Remove(cfg); err != nil {
			return nil, err
		}
		ix, err = search.Open(cfg)
	}
	return ix, err
}

// followSearch keeps the index up to date until ctx ends, catching up at
// most every searchLag (a message is still searchable well within a
// second); on an error it rebuilds and carries on.
func (n *Node) followSearch(ctx context.Context) {
	for {
		err := n.search.Follow(ctx, n.store, searchLag)
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("search index stopped following; rebuilding", "err", err)
		if err := n.search.Rebuild(ctx, n.store); err != nil && ctx.Err() == nil {
			n.log.Error("search index rebuild failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// searchLag is the longest a committed message waits to be indexed.
const searchLag = 250 * time.Millisecond

// Search finds the messages matching query (every word; a trailing * makes
// a prefix) in channel, or in every public channel when channel is "",
// newest first, as they read now (a deleted message is left out).
func (n *Node) Search(ctx context.Context, query, channel string, limit int) ([]storage.Message, error) {
	chans, err := n.store.Channels()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range n.visible(chans) {
		if c.Members == nil && (channel == "" || c.Name == channel) {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	hits, err := n.search.Search(ctx, query, names, limit)
	if errors.Is(err, search.ErrEmptyQuery) {
		return nil, errors.Join(ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]storage.Message, 0, len(hits))
	for _, h := range hits {
		if m, err := n.store.Lookup(h.ID); err == nil && !m.Deleted {
			out = append(out, m)
		}
	}
	return out, nil
}

func (cs *controlServer) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	msgs, err := cs.node.Search(ctx, q.Get("q"), q.Get("channel"), limit)
	if err != nil {
		cs.fail(w, err)
		return
	}
	cs.writeRows(w, msgs)
}
