package search

import (
	"context"
	"errors"
	"testing"
)

// FuzzSearchQuery checks that no text a user can type makes Search fail
// with anything but ErrEmptyQuery: FTS5 syntax is never interpreted.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{
		"server", `"`, `"""`, "*", "a*", "**", "NEAR(a b, 2)", "a AND OR NOT b", "col:x", "{text}: y",
		"^start", "-x", "+x", "(a OR b", "a)", "x*y", "\x00", "\xff\xfe", "'", "é*", "東京*", "🎉",
		"a : b", "- -", `\"\\`, "NOT", "x NEAR/3 y",
	} {
		f.Add(s)
	}
	ix, err := Open(Config{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ix.Close() })
	if err := ix.Add(fixture); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, err := ix.Search(context.Background(), q, allChans, 5)
		if err != nil && !errors.Is(err, ErrEmptyQuery) {
			t.Fatalf("Search(%q): %v", q, err)
		}
	})
}
