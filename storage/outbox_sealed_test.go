package storage

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOutboxFlippedTextIsRefused: a flipped bit in a queued message's text
// in outbox.db is refused, at open and on read, never sent as changed text.
func TestOutboxFlippedTextIsRefused(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "a", "b")
	path := o.cfg.Path
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	flipInFile(t, path, []byte("text of b"), 8, 0x01) // 'b' -> 'c'
	_, err := OpenOutbox(outboxTestConfig(t, path, 0))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("OpenOutbox of a flipped text: %v, want ErrCorrupt naming a checksum mismatch", err)
	}

	// Damage under an open outbox is refused by the read that meets it.
	flipInFile(t, path, []byte("text of c"), 8, 0x01) // back to 'b'
	o = mustOpenOutbox(t, path, 0)
	flipInFile(t, path, []byte("text of a"), 8, 0x01)
	if _, err := o.Get("a"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a flipped text: %v, want ErrCorrupt", err)
	}
	if _, err := o.Pending(0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Pending over a flipped text: %v, want ErrCorrupt", err)
	}
}

// TestOutboxMigratesSchema1 opens an outbox written before its values had
// checksums: every entry reads as before, and the file is at schema 2.
func TestOutboxMigratesSchema1(t *testing.T) {
	o := mustOpenOutbox(t, "", 0)
	mustPut(t, o, "sent", "failed", "queued")
	if err := o.MarkSent([]string{"sent"}, 7, t0); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkFailed("failed", "unknown channel"); err != nil {
		t.Fatal(err)
	}
	want, err := o.List()
	if err != nil {
		t.Fatal(err)
	}
	path := o.cfg.Path
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	unsealOutbox(t, path)

	o = mustOpenOutbox(t, path, 0)
	got, err := o.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("after the migration: %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameEntry(got[i], want[i]) {
			t.Errorf("entry %d after the migration: %+v, want %+v", i, got[i], want[i])
		}
	}
	mustPut(t, o, "next")
	o = reopenOutbox(t, o, 0)
	if e := mustGet(t, o, "next"); e.Seq != 4 {
		t.Errorf("the next Put after the migration got seq %d, want 4", e.Seq)
	}
	_ = o.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketOutboxMeta).Get(keyOutboxSchema); !bytes.Equal(v, seqKey(outboxSchemaVersion)) {
			t.Errorf("schema after the migration: %x", v)
		}
		return nil
	})
}

// unsealOutbox turns the outbox at path into a schema 1 file: every value
// without its checksum.
func unsealOutbox(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, fileMode, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketOutboxEntries, bucketOutboxIDs, bucketOutboxMeta} {
			b := tx.Bucket(name)
			type kv struct{ k, v []byte }
			var all []kv
			_ = b.ForEach(func(k, v []byte) error {
				if !bytes.Equal(k, keyOutboxSchema) {
					all = append(all, kv{bytes.Clone(k), bytes.Clone(v[:len(v)-sumSize])})
				}
				return nil
			})
			for _, r := range all {
				if err := b.Put(r.k, r.v); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketOutboxMeta).Put(keyOutboxSchema, seqKey(outboxSchemaV1))
	})
	if err != nil {
		t.Fatal(err)
	}
}
