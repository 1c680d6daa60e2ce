// Package search is the member-local full-text index of chat messages.
//
// The index lives in its own SQLite file (DATA/search.db) and uses SQLite's
// FTS5 extension through the pure-Go modernc.org/sqlite driver, so the static
// headless build (CGO_ENABLED=0) keeps working. The library was chosen by
// measurement against bleve v2: see "Search" in docs/benchmarks.md.
//
// The index is derived data: it can always be rebuilt from the replicated
// store, so it trades durability for speed (WAL, synchronous=NORMAL) and a
// corrupt file is reported as ErrCorrupt for the caller to Remove and rebuild.
//
// Feeding it: the simplest hook is `go ix.Follow(ctx, store, gap)`, which catches
// up on start and then after every apply, reading only the channels that
// grew, without touching the apply path. Alternatively call Add with the
// messages the store applied, in apply order, a Raft entry's messages in one
// call, and CatchUp(ctx, store) on start. Each Add is one transaction that
// also records the highest Raft index it covered (Indexed), so after a
// restart CatchUp reads only the messages the index has not seen. Re-adding
// a message ID is a no-op, which makes replays and overlaps harmless.
// Follow also follows the store's change feed (FollowChanges): an edited
// message is re-indexed with its new text, a deleted one dropped; with Add
// instead, call FollowChanges after each CatchUp or Add.
//
// Searching: the user's text is treated as plain words, every one of which
// must occur, in any order; FTS5 syntax characters are never interpreted,
// except a trailing '*' on a word of two letters or more, which asks for a
// prefix match. Hits come newest first (commit order), which is what a chat
// user scans for and what FTS5 can answer without scoring every match.
//
// The package is a leaf like storage: it imports storage's types only.
package search
