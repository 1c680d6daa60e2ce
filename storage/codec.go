package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Bucket names and meta keys. They are the on-disk format: never rename.
var (
	bucketMeta     = []byte("meta")
	bucketChannels = []byte("channels")
	bucketMembers  = []byte("members")
	bucketIDs      = []byte("ids")
	bucketMessages = []byte("messages")
	bucketInvites  = []byte("invites")
	bucketRemoved  = []byte("removed")
	// bucketReactions keys are message ID, 0, emoji, 0, member ID.
	bucketReactions = []byte("reactions")
	// bucketChanges is the change feed (changes.go): change number →
	// channel, 0, seq (8 bytes), message ID.
	bucketChanges = []byte("changes")
	// bucketOpIDs is the dedup index of edits, deletions and reactions
	// (opids.go): op ID → 1 byte 1, then the refusal text ("" if applied).
	bucketOpIDs = []byte("opids")
	// bucketPins keys are channel, 0, 8-byte seq; values the message ID.
	// The first pin creates it (protocol 3): older files have none.
	bucketPins = []byte("pins")

	keyApplied    = []byte("applied")
	keyLastCommit = []byte("last_commit")
	keySchema     = []byte("schema")
	// keyTeamVersion is the committed team version (OpSetTeamVersion);
	// absent: 1.
	keyTeamVersion = []byte("team_version")
	// keySchemaCopy holds the schema version again, checksummed like every
	// other value: the plain one must stay readable by older releases, and
	// the copy tells a newer release's file from a flipped bit.
	keySchemaCopy = []byte("schema_copy")
	// keyDigests is the state digest chain and its latest pairs
	// (digest.go), kept with the applied index.
	keyDigests = []byte("digests")
	// keyMigrate is present while a schema 1 store is being migrated
	// (migrate.go): where the migration has got to.
	keyMigrate = []byte("migrate")
)

// stateBuckets are the top-level buckets of state.db.
var stateBuckets = [][]byte{bucketMeta, bucketChannels, bucketMembers, bucketIDs, bucketMessages,
	bucketInvites, bucketRemoved, bucketReactions, bucketChanges, bucketOpIDs}

// schemaVersion is bumped on incompatible layout changes so an old binary
// refuses a newer file instead of misreading it. Version 2 added a checksum
// to every value (record.go); Open migrates a version 1 file.
const (
	schemaVersion = 2
	schemaV1      = 1
)

// seqKey encodes a seq big-endian so bbolt's byte order is seq order.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func decodeUint64(b []byte, what string) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %s is %d bytes, want 8", ErrCorrupt, what, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// idValue is the dedup index value: where the message with that ID lives.
func idValue(channel string, seq uint64) []byte {
	b := make([]byte, 0, 8+len(channel)+sumSize)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, channel...)
}

func decodeIDValue(b []byte) (channel string, seq uint64, err error) {
	if len(b) < 9 {
		return "", 0, fmt.Errorf("%w: id index value is %d bytes", ErrCorrupt, len(b))
	}
	return string(b[8:]), binary.BigEndian.Uint64(b[:8]), nil
}

func encodeTime(t time.Time) ([]byte, error) {
	b, err := t.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode time %v: %w", t, err)
	}
	return b, nil
}

func decodeTime(b []byte) (time.Time, error) {
	var t time.Time
	if b == nil {
		return t, nil
	}
	if err := t.UnmarshalBinary(b); err != nil {
		return t, fmt.Errorf("%w: last commit time: %v", ErrCorrupt, err)
	}
	return t, nil
}

// decodeJSON decodes a stored value; a failure means the file is damaged
// (only this package writes it), hence ErrCorrupt.
func decodeJSON(b []byte, v any, what string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
	return nil
}
