// Package storage is the replicated chat state of a concord team: the
// channels, their messages and the member list, kept in a single bbolt file.
//
// Every member runs the same Raft FSM, which hands committed log entries to
// [Store.Apply]. Apply must therefore be deterministic: everything it stores is
// derived from the [Entry] (index, leader commit stamp, ops), never from the
// local clock or local configuration, so that every replica ends up with
// byte-identical state and every replica returns the same [Result] for the
// same op. Refusals (unknown channel, invalid envelope, ...) are results, not
// errors: an error from Apply means local storage failed and nothing of the
// batch was kept.
//
// Layout of the file (all keys and values are written by this package only):
//
//	meta      schema version (8 plain bytes), applied index, last commit time
//	channels  channel name -> JSON Channel
//	members   member ID    -> JSON Member
//	invites   invite ID    -> JSON Invite
//	removed   member ID    -> JSON Removal
//	ids       envelope ID  -> 8-byte seq + channel name (dedup index)
//	messages  one sub-bucket per channel: 8-byte big-endian seq -> binary
//	          Message (binary.go)
//	reactions message ID, 0, emoji, 0, member ID -> empty
//	changes   change number -> channel, 0, 8-byte seq, message ID
//	opids     op ID -> 1, refusal text
//
// From schema 2 on every value but the schema version ends with a 4-byte
// CRC32C over the bucket path, the key and the value (record.go), verified
// on every read: damage is an error wrapping ErrCorrupt that names the
// bucket and key, never different data. Before bbolt opens a file for
// writing, its whole tree and every record's checksum are checked from the
// file (pagecheck.go): the damage record checksums cannot see (a hidden
// record, an older copy of a bucket, a page that names itself as its
// child) is refused too. Open migrates a schema 1 file in resumable batches
// (migrate.go), and cross-checks channels against their messages when the
// file is small or Config.CheckOnOpen asks; Store.Check does all of it on
// demand. A panic inside bbolt on a damaged page is recovered as
// ErrCorrupt. outbox.db's values carry the same checksum (outbox schema 2).
//
// The applied index is written in the same transaction as the state it
// covers, so after a crash the store knows exactly which entries it already
// holds and a replay of the log is idempotent.
//
// Snapshots are streamed straight out of a read transaction and restores are
// streamed into a side file that atomically replaces the database, so neither
// needs the whole state in memory.
package storage
