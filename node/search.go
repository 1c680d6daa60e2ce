package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"concord/search"
	"concord/storage"
)

// Full-text search: DATA/search.db (SQLite FTS5) follows the store in the
// background; a new message is searchable a few ms after it is applied,
// an edit or deletion soon after it applies. The index reads the store
// through searchSource, which opens the private messages this member takes
// part in: their text is indexed in this member's own search.db only;
// other private messages are indexed as empty.

// searchSource is the store as the index reads it.
type searchSource struct {
	*storage.Store
	n *Node
}

var _ search.Applied = searchSource{}

// History opens a private conversation's texts for a participant and
// blanks them for anyone else. The channel is looked up once per page: the
// index reads thousands of messages a second under load.
func (s searchSource) History(channel string, q storage.Query) ([]storage.Message, error) {
	msgs, err := s.Store.History(channel, q)
	if err != nil || len(msgs) == 0 {
		return msgs, err
	}
	members, err := s.n.private(channel)
	if err != nil || members == nil {
		return msgs, nil
	}
	for i := range msgs {
		s.n.searchable(&msgs[i], members)
	}
	return msgs, nil
}

// Lookup is History's rule for one message.
func (s searchSource) Lookup(id string) (storage.Message, error) {
	m, err := s.Store.Lookup(id)
	if err != nil {
		return m, err
	}
	if members, err := s.n.private(m.Channel); err == nil && members != nil {
		s.n.searchable(&m, members)
	}
	return m, nil
}

// searchable turns a message of a private conversation (its participants:
// members) from sealed text into what this member may index: the opened
// text for a participant, nothing for anyone else.
func (n *Node) searchable(m *storage.Message, members []string) {
	if m.Deleted {
		return
	}
	if !slices.Contains(members, n.ID().String()) {
		m.Text = ""
		return
	}
	n.reveal(m)
	if strings.HasPrefix(m.Text, cannotRead) {
		m.Text = ""
	}
}

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
		err := n.search.Follow(ctx, searchSource{n.store, n}, searchLag)
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("search index stopped following; rebuilding", "err", err)
		if err := n.search.Rebuild(ctx, searchSource{n.store, n}); err != nil && ctx.Err() == nil {
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
// a prefix) in channel, or in every channel this member reads (its own
// private conversations included) when channel is "", newest first, as
// they read now (a deleted message is left out).
func (n *Node) Search(ctx context.Context, query, channel string, limit int) ([]storage.Message, error) {
	chans, err := n.store.Channels()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range n.visible(chans) {
		if channel == "" || c.Name == channel {
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
		m, err := n.store.Lookup(h.ID)
		if err != nil || m.Deleted {
			continue
		}
		if ch, err := n.store.Channel(m.Channel); err == nil && ch.Members != nil {
			n.reveal(&m)
		}
		out = append(out, m)
	}
	return out, nil
}
