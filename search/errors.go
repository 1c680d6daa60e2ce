package search

import "errors"

// Errors returned by the index. Callers test them with errors.Is.
var (
	// ErrEmptyQuery means the query has no word to look for (it is empty
	// or made of punctuation only).
	ErrEmptyQuery = errors.New("search: empty query")
	// ErrNoChannels means Search was given no channel to look in.
	ErrNoChannels = errors.New("search: no channel to search")
	// ErrCorrupt means the index file is damaged or not an index. The
	// caller should Close, Remove and Open it again, then CatchUp.
	ErrCorrupt = errors.New("search: index file is corrupt")
	// ErrClosed means the Index was used after Close.
	ErrClosed = errors.New("search: index closed")
)
