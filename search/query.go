package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTerms bounds the work one query can ask for.
const maxTerms = 32

// minPrefix is the shortest word a trailing '*' makes a prefix match.
const minPrefix = 2

// matchExpr turns what a user typed into an FTS5 MATCH expression that can
// never be a syntax error: each whitespace-separated word becomes a quoted
// FTS5 string (so AND, OR, NEAR, quotes, colons, parentheses and the like are
// plain text, and FTS5's own tokenizer splits "don't" or "e-mail" as it did
// when indexing), and the words are ANDed. A word ending in '*' is a prefix
// match if it has at least minPrefix letters. Words with no letter or digit are dropped; if none is left the
// result is "" and the caller reports ErrEmptyQuery.
func matchExpr(query string) string {
	var terms []string
	// FTS5's parser stops a string at NUL; no word contains one anyway.
	query = strings.ReplaceAll(query, "\x00", " ")
	for _, w := range strings.Fields(query) {
		prefix := strings.HasSuffix(w, "*")
		w = strings.TrimRight(w, "*")
		if !hasWordRune(w) {
			continue
		}
		t := `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
		// A one-letter prefix matches most of the vocabulary and would merge
		// that many doclists (there is no prefix index below two letters):
		// look for the word itself instead.
		if prefix && utf8.RuneCountInString(w) >= minPrefix {
			t += "*"
		}
		terms = append(terms, t)
		if len(terms) == maxTerms {
			break
		}
	}
	return strings.Join(terms, " ")
}

// hasWordRune reports whether w has a rune the unicode61 tokenizer keeps.
func hasWordRune(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}
