package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"concord/storage"
)

func mustOpen(t *testing.T, dir string) *Index {
	t.Helper()
	ix, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func msg(id, channel string, seq, index uint64, text string) storage.Message {
	return storage.Message{
		Envelope: storage.Envelope{ID: id, Channel: channel, Text: text},
		Seq:      seq,
		Index:    index,
	}
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

var fixture = []storage.Message{
	msg("a1", "general", 1, 10, "Deploy the server tomorrow morning"),
	msg("a2", "general", 2, 10, "the SERVER is down again"),
	msg("b1", "random", 1, 11, "lunch at the café? Coffee after"),
	msg("a3", "general", 3, 12, `who wrote "NEAR(a b)" AND col:x OR (y)?`),
	msg("b2", "random", 2, 12, "привет мир, Grüße aus München"),
	msg("c1", "ops", 1, 13, "server deployment finished, don't panic"),
	msg("a4", "general", 4, 14, "東京 タワー 🎉 e-mail me"),
	msg("b3", "random", 3, 15, "servers servers everywhere"),
}

var allChans = []string{"general", "random", "ops"}

func TestSearch(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	if err := ix.Add(fixture); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		query    string
		channels []string
		limit    int
		want     []string
	}{
		{"one word, newest first", "server", allChans, 0, []string{"c1", "a2", "a1"}},
		{"case-insensitive", "SeRvEr", allChans, 0, []string{"c1", "a2", "a1"}},
		{"all words must match", "server down", allChans, 0, []string{"a2"}},
		{"word order free", "down server", allChans, 0, []string{"a2"}},
		{"prefix", "serv*", allChans, 0, []string{"b3", "c1", "a2", "a1"}},
		{"prefix then word", "deploy* server", allChans, 0, []string{"c1", "a1"}},
		{"one-letter prefix is a word", "s*", allChans, 0, []string{}},
		{"two-letter prefix", "se*", allChans, 0, []string{"b3", "c1", "a2", "a1"}},
		{"cyrillic prefix", "прив*", allChans, 0, []string{"b2"}},
		{"channel filter", "server", []string{"ops", "random"}, 0, []string{"c1"}},
		{"unknown channel", "server", []string{"nope"}, 0, []string{}},
		{"limit", "server", allChans, 2, []string{"c1", "a2"}},
		{"no match", "kubernetes", allChans, 0, []string{}},
		{"accent-insensitive", "cafe", allChans, 0, []string{"b1"}},
		{"accent typed", "Café", allChans, 0, []string{"b1"}},
		{"umlaut folded (ß is not)", "gruße munchen", allChans, 0, []string{"b2"}},
		{"ß is not ss", "grusse", allChans, 0, []string{}},
		{"cyrillic", "ПРИВЕТ", allChans, 0, []string{"b2"}},
		{"cjk word", "東京", allChans, 0, []string{"a4"}},
		{"apostrophe", "don't", allChans, 0, []string{"c1"}},
		{"hyphen", "e-mail", allChans, 0, []string{"a4"}},
		{"fts keyword AND as word", "AND", allChans, 0, []string{"a3"}},
		{"fts keywords", "near col or", allChans, 0, []string{"a3"}},
		{"quotes and parens", `"NEAR(a b)" (y)`, allChans, 0, []string{"a3"}},
		{"column syntax", "col:x", allChans, 0, []string{"a3"}},
		{"unbalanced quote", `"server`, allChans, 0, []string{"c1", "a2", "a1"}},
		{"stray operators", `server ^ - + : * ( ) {`, allChans, 0, []string{"c1", "a2", "a1"}},
		{"leading minus", "-server", allChans, 0, []string{"c1", "a2", "a1"}},
		{"NUL byte separates words", "server\x00down", allChans, 0, []string{"a2"}},
		{"emoji word dropped", "🎉 tower タワー", allChans, 0, []string{}},
		{"emoji with word", "🎉 タワー", allChans, 0, []string{"a4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, err := ix.Search(context.Background(), tt.query, tt.channels, tt.limit)
			if err != nil {
				t.Fatalf("Search(%q): %v", tt.query, err)
			}
			if got := ids(hits); !slices.Equal(got, tt.want) {
				t.Errorf("Search(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestSearchHitFields(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	if err := ix.Add(fixture); err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search(context.Background(), "panic", allChans, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Hit{{ID: "c1", Channel: "ops", Seq: 1, Index: 13}}
	if !slices.Equal(hits, want) {
		t.Fatalf("hits = %+v, want %+v", hits, want)
	}
}

func TestSearchBadInput(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	if err := ix.Add(fixture); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		query    string
		channels []string
		want     error
	}{
		{"empty", "", allChans, ErrEmptyQuery},
		{"blank", " \t\n ", allChans, ErrEmptyQuery},
		{"punctuation only", `"" * () : - ^`, allChans, ErrEmptyQuery},
		{"star only", "*", allChans, ErrEmptyQuery},
		{"emoji only", "🎉🎉", allChans, ErrEmptyQuery},
		{"no channels", "server", nil, ErrNoChannels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ix.Search(context.Background(), tt.query, tt.channels, 10)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Search(%q) error = %v, want %v", tt.query, err, tt.want)
			}
		})
	}
}

func TestSearchCancelled(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	if err := ix.Add(fixture); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ix.Search(ctx, "server", allChans, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Search with cancelled ctx: %v, want context.Canceled", err)
	}
}

func TestAddDedup(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]storage.Message
		want    []string
	}{
		{"same batch twice", [][]storage.Message{fixture, fixture}, []string{"c1", "a2", "a1"}},
		{"duplicate inside a batch", [][]storage.Message{{fixture[0], fixture[0], fixture[1]}}, []string{"a2", "a1"}},
		{"replayed entry keeps order", [][]storage.Message{fixture[:2], fixture[1:2], fixture[5:6]}, []string{"c1", "a2", "a1"}},
		{"same text, other ID", [][]storage.Message{fixture[:1], {msg("z9", "general", 9, 20, "server")}}, []string{"z9", "a1"}},
		{"empty batch", [][]storage.Message{{}, fixture[:1]}, []string{"a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := mustOpen(t, t.TempDir())
			for _, b := range tt.batches {
				if err := ix.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			hits, err := ix.Search(context.Background(), "server", allChans, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(hits); !slices.Equal(got, tt.want) {
				t.Fatalf("hits = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIndexedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Indexed(); got != 0 {
		t.Fatalf("fresh Indexed = %d", got)
	}
	if err := ix.Add(fixture[:4]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(fixture[:1]); err != nil { // an old replay must not move it back
		t.Fatal(err)
	}
	if got := ix.Indexed(); got != 12 {
		t.Fatalf("Indexed = %d, want 12", got)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = mustOpen(t, dir)
	if got := ix.Indexed(); got != 12 {
		t.Fatalf("Indexed after restart = %d, want 12", got)
	}
	hits, err := ix.Search(context.Background(), "server", allChans, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); !slices.Equal(got, []string{"a2", "a1"}) {
		t.Fatalf("hits after restart = %v", got)
	}
}

func TestClose(t *testing.T) {
	ix, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := ix.Add(fixture); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if _, err := ix.Search(context.Background(), "x", allChans, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Error("Open with empty Dir succeeded")
	}
	if _, err := Open(Config{Dir: t.TempDir(), Readers: -1}); err == nil {
		t.Error("Open with negative Readers succeeded")
	}
}

func TestCorruptFile(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string)
	}{
		{"not a database", func(t *testing.T, path string) {
			writeFile(t, path, []byte("this is not an sqlite file, just some text that is long enough......"), 0)
		}},
		{"garbage header", func(t *testing.T, path string) {
			writeFile(t, path, make([]byte, 100), 0)
		}},
		{"garbage pages", func(t *testing.T, path string) {
			junk := make([]byte, 16<<10)
			for i := range junk {
				junk[i] = byte(i*7 + 3)
			}
			writeFile(t, path, junk, 4096)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir}
			ix, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := newCorpus(1, 2000, 3)
			for range 3 {
				if err := ix.Add(c.batch(200)); err != nil {
					t.Fatal(err)
				}
			}
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, cfg.Path())
			err = openAndCheck(cfg)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open+check of spoilt index: %v, want ErrCorrupt", err)
			}
			// The caller's recovery: remove and rebuild.
			if err := Remove(cfg); err != nil {
				t.Fatal(err)
			}
			ix = mustOpen(t, dir)
			if ix.Indexed() != 0 {
				t.Fatalf("Indexed after Remove = %d", ix.Indexed())
			}
		})
	}
}

// openAndCheck is what a careful caller does on start.
func openAndCheck(cfg Config) error {
	ix, err := Open(cfg)
	if err != nil {
		return err
	}
	defer ix.Close()
	return ix.Check(context.Background())
}

func writeFile(t *testing.T, path string, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestManyMessagesInOneEntry(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	var batch []storage.Message
	for i := range 3000 {
		batch = append(batch, msg(fmt.Sprintf("m%d", i), "general", uint64(i+1), 5, "bulk word"))
	}
	// split across Adds, as a catch-up page boundary would
	if err := ix.Add(batch[:1000]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(batch[1000:]); err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search(context.Background(), "bulk", allChans, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); !slices.Equal(got, []string{"m2999", "m2998", "m2997"}) {
		t.Fatalf("newest hits = %v", got)
	}
}

// TestSearchPlanWalksNewestFirst guards the property the latency rests on:
// SQLite answers "newest first" by walking the FTS5 doclist backwards and
// stopping at the limit, never by sorting every match.
func TestSearchPlanWalksNewestFirst(t *testing.T) {
	ix := mustOpen(t, t.TempDir())
	if err := ix.Add(fixture); err != nil {
		t.Fatal(err)
	}
	rows, err := ix.db.Query(`EXPLAIN QUERY PLAN `+searchSQL(2), `"server"`, "general", "ops", 20)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	t.Logf("plan: %q", plan)
	if len(plan) != 2 || !strings.Contains(plan[0], "VIRTUAL TABLE INDEX") || !strings.Contains(plan[1], "INTEGER PRIMARY KEY") {
		t.Errorf("plan does not drive the search from FTS5 with a rowid lookup per match: %q", plan)
	}
	for _, d := range plan {
		if strings.Contains(d, "TEMP B-TREE") {
			t.Errorf("plan sorts the matches: %q", plan)
		}
	}
}

// TestIndexFilesArePrivate: search.db and its WAL hold every message's
// text, so they are 0600 like the data dir's other private files, also
// when an earlier release left a 0644 index.
func TestIndexFilesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix file modes")
	}
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, FileName)
		if existing {
			ix := mustOpen(t, dir)
			ix.Close()
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ix := mustOpen(t, dir)
		if err := ix.Add(fixture); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				if os.IsNotExist(err) && p != path {
					continue
				}
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("existing index %v: %s has mode %o, want 600", existing, filepath.Base(p), m)
			}
		}
		ix.Close()
	}
}
