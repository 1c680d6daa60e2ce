package search

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"

	"concord/storage"
)

// fakeStore is a Source with storage.Store's History semantics.
type fakeStore struct {
	mu    sync.Mutex
	chans map[string][]storage.Message
	pages int // History calls
	index uint64
}

func newFakeStore() *fakeStore { return &fakeStore{chans: map[string][]storage.Message{}} }

// apply appends n messages per channel in one Raft entry each and returns them.
func (f *fakeStore) apply(c *corpus, n int) []storage.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Message
	// A Raft entry is applied whole: finish the corpus's current entry.
	for i := 0; i < n || c.inEntry > 0; i++ {
		m := c.next()
		f.index = max(f.index, m.Index)
		m.Seq = uint64(len(f.chans[m.Channel]) + 1)
		f.chans[m.Channel] = append(f.chans[m.Channel], m)
		out = append(out, m)
	}
	return out
}

func (f *fakeStore) Channels() ([]storage.Channel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Channel
	for name, ms := range f.chans {
		out = append(out, storage.Channel{Name: name, Messages: uint64(len(ms))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeStore) History(channel string, q storage.Query) ([]storage.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages++
	ms, ok := f.chans[channel]
	if !ok {
		return nil, storage.ErrUnknownChannel
	}
	end := len(ms)
	if q.Before > 0 {
		end = min(end, int(q.Before)-1)
	}
	start := 0
	if q.Limit > 0 {
		start = max(0, end-q.Limit)
	}
	return slices.Clone(ms[start:end]), nil
}

func (f *fakeStore) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, ms := range f.chans {
		for _, m := range ms {
			out = append(out, m.ID)
		}
	}
	slices.Sort(out)
	return out
}

// indexedIDs lists every message the index holds (from its tables: no one
// word is in every message) and checks the FTS table has as many rows.
func indexedIDs(t *testing.T, ix *Index) []string {
	t.Helper()
	rows, err := ix.db.Query(`SELECT id FROM msgs ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	var n int
	if err := ix.db.QueryRow(`SELECT count(*) FROM fts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(out) {
		t.Fatalf("fts has %d rows, msgs %d", n, len(out))
	}
	return out
}

// testPage is the catch-up page size in tests: small, so that a few thousand
// messages span many pages.
const testPage = 100

func TestCatchUp(t *testing.T) {
	tests := []struct {
		name            string
		before          int // messages applied and Added live before the restart
		missed          int // messages applied while the index was closed
		wantPagesAtMost int
	}{
		{"empty store", 0, 0, 0},
		{"fresh index, small store", 0, testPage / 2, 3 * 2},
		{"fresh index, several pages per channel", 0, 3 * testPage * 2, 3 * 8},
		{"nothing missed", 500, 0, 3},
		{"a few missed", 600, 40, 3 * 2},
		{"many missed", 1000, 3 * testPage, 3 * 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			store := newFakeStore()
			c := newCorpus(3, 3000, 3)
			ix := mustOpen(t, dir)
			for done := 0; done < tt.before; done += 100 {
				if err := ix.Add(store.apply(c, min(100, tt.before-done))); err != nil {
					t.Fatal(err)
				}
			}
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			store.apply(c, tt.missed)

			ix = mustOpen(t, dir)
			ix.page = testPage
			store.pages = 0
			if err := ix.CatchUp(context.Background(), store); err != nil {
				t.Fatal(err)
			}
			if got, want := indexedIDs(t, ix), store.ids(); !slices.Equal(got, want) {
				t.Fatalf("after catch-up the index holds %d messages, the store %d", len(got), len(want))
			}
			if got := ix.Indexed(); got != store.index {
				t.Fatalf("Indexed = %d, want the store's %d", got, store.index)
			}
			if store.pages > tt.wantPagesAtMost+3 {
				t.Errorf("catch-up read %d pages, want at most %d", store.pages, tt.wantPagesAtMost+3)
			}
			// A second catch-up finds no channel grew and reads no page.
			store.pages = 0
			if err := ix.CatchUp(context.Background(), store); err != nil {
				t.Fatal(err)
			}
			if store.pages != 0 {
				t.Errorf("idle catch-up read %d pages", store.pages)
			}
		})
	}
}

func TestCatchUpOrderMatchesLive(t *testing.T) {
	store := newFakeStore()
	c := newCorpus(4, 300, 2)
	live := mustOpen(t, t.TempDir())
	for range 8 {
		if err := live.Add(store.apply(c, 97)); err != nil {
			t.Fatal(err)
		}
	}
	caught := mustOpen(t, t.TempDir())
	caught.page = testPage
	if err := caught.CatchUp(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	chans := []string{c.channels[0], c.channels[1]}
	for _, q := range []string{c.vocab[0], c.vocab[7], c.vocab[150]} {
		a, err := live.Search(context.Background(), q, chans, 200)
		if err != nil {
			t.Fatal(err)
		}
		b, err := caught.Search(context.Background(), q, chans, 200)
		if err != nil {
			t.Fatal(err)
		}
		// Order may differ only among messages of one Raft entry.
		for i := range a {
			if a[i].Index != b[i].Index {
				t.Fatalf("query %q hit %d: live index %d, caught-up index %d", q, i, a[i].Index, b[i].Index)
			}
		}
		if len(a) != len(b) {
			t.Fatalf("query %q: live %d hits, caught-up %d", q, len(a), len(b))
		}
	}
}

func TestCatchUpInterrupted(t *testing.T) {
	store := newFakeStore()
	c := newCorpus(5, 3000, 3)
	store.apply(c, 500)
	ix := mustOpen(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ix.CatchUp(ctx, store); !errors.Is(err, context.Canceled) {
		t.Fatalf("CatchUp with cancelled ctx: %v", err)
	}
	if ix.Indexed() != 0 {
		t.Fatalf("an interrupted catch-up moved Indexed to %d", ix.Indexed())
	}
	// Live Adds after a failed catch-up must not cover what it missed.
	if err := ix.Add(store.apply(c, 5)); err != nil {
		t.Fatal(err)
	}
	if ix.Indexed() != 0 {
		t.Fatalf("a live Add after a failed catch-up moved Indexed to %d", ix.Indexed())
	}
	if err := ix.CatchUp(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if got, want := len(indexedIDs(t, ix)), len(store.ids()); got != want {
		t.Fatalf("indexed %d messages, want %d", got, want)
	}
	if ix.Indexed() != store.index {
		t.Fatalf("Indexed = %d, want %d", ix.Indexed(), store.index)
	}
}

func TestLiveAddDuringCatchUpDoesNotSkip(t *testing.T) {
	store := newFakeStore()
	c := newCorpus(6, 3000, 3)
	store.apply(c, 1000)
	ix := mustOpen(t, t.TempDir())
	// A live Add while a catch-up runs must not move Indexed past what the
	// catch-up has covered: simulate by entering catch-up state by hand.
	ix.wmu.Lock()
	ix.catchingUp++
	ix.wmu.Unlock()
	if err := ix.Add(store.apply(c, 10)); err != nil {
		t.Fatal(err)
	}
	if got := ix.Indexed(); got != 0 {
		t.Fatalf("live Add during catch-up moved Indexed to %d", got)
	}
	ix.wmu.Lock()
	ix.catchingUp--
	ix.wmu.Unlock()
	if err := ix.CatchUp(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if got, want := len(indexedIDs(t, ix)), len(store.ids()); got != want {
		t.Fatalf("indexed %d, want %d", got, want)
	}
	if ix.Indexed() != store.index {
		t.Fatalf("Indexed = %d, want %d", ix.Indexed(), store.index)
	}
}

func TestRebuild(t *testing.T) {
	store := newFakeStore()
	c := newCorpus(8, 3000, 3)
	ix := mustOpen(t, t.TempDir())
	ix.page = testPage
	if err := ix.Add(fixture); err != nil { // not in the store: must go
		t.Fatal(err)
	}
	store.apply(c, 700)
	if err := ix.Rebuild(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if got, want := indexedIDs(t, ix), store.ids(); !slices.Equal(got, want) {
		t.Fatalf("after Rebuild: %d messages, want %d", len(got), len(want))
	}
	if hits, _ := ix.Search(context.Background(), "server", allChans, 10); len(hits) != 0 {
		t.Fatalf("Rebuild kept old messages: %v", ids(hits))
	}
}

func TestTrimPage(t *testing.T) {
	page := func(first uint64, idx ...uint64) []storage.Message {
		out := make([]storage.Message, len(idx))
		for i, x := range idx {
			out[i] = storage.Message{Seq: first + uint64(i), Index: x}
		}
		return out
	}
	full := func(first uint64, idx ...uint64) []storage.Message {
		p := page(first, idx...)
		for len(p) < catchUpPage {
			last := p[len(p)-1]
			p = append(p, storage.Message{Seq: last.Seq + 1, Index: last.Index + 1})
		}
		return p
	}
	tests := []struct {
		name      string
		page      []storage.Message
		from      uint64
		wantFirst uint64 // seq of the first kept message, 0 if none
		wantNext  uint64
		wantDone  bool
	}{
		{"empty", nil, 0, 0, 0, true},
		{"short page is the start", page(1, 3, 4, 5), 0, 1, 0, true},
		{"short page above from", page(1, 3, 4, 5), 3, 2, 0, true},
		{"full page, all old", full(100, 1, 1, 2), 1_000_000, 0, 0, true},
		{"full page reaching from", full(100, 5, 6, 7), 6, 102, 0, true},
		{"full page from the channel start", full(1, 5, 5, 6), 0, 1, 0, true},
		{"full page, drop oldest entry", full(100, 9, 9, 10), 0, 102, 102, false},
		{"full page, one entry", func() []storage.Message {
			p := page(100)
			for i := range catchUpPage {
				p = append(p, storage.Message{Seq: 100 + uint64(i), Index: 9})
			}
			return p
		}(), 0, 100, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep, next, done := trimPage(tt.page, tt.from, catchUpPage)
			var first uint64
			if len(keep) > 0 {
				first = keep[0].Seq
			}
			if first != tt.wantFirst || next != tt.wantNext || done != tt.wantDone {
				t.Fatalf("trimPage = first %d next %d done %v, want %d %d %v", first, next, done, tt.wantFirst, tt.wantNext, tt.wantDone)
			}
		})
	}
}
