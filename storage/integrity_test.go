package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// copySchema1 copies testdata/schema1.db (written by the schema 1 code of
// ad31a50) into a temp dir and returns its path.
func copySchema1(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, b, fileMode); err != nil {
		t.Fatal(err)
	}
	return path
}

func schema1Golden(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/schema1.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMigrateSchema1(t *testing.T) {
	path := copySchema1(t)
	s := mustOpenAt(t, path)
	if got, want := mustReadAll(t, s), schema1Golden(t); !bytes.Equal(got, want) {
		t.Fatalf("migrated store reads differently from the schema 1 store:\n%s", got)
	}
	if err := s.Check(context.Background(), nil); err != nil {
		t.Fatalf("Check after migration: %v", err)
	}
	res := mustApply(t, s, entry(s.AppliedIndex()+1, t0, msg("after", "general", "new")))
	if res[0][0].Err != "" || res[0][0].Seq != 202 {
		t.Fatalf("message after migration: %+v", res[0][0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, fileMode, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, seqKey(2)) {
			t.Errorf("schema after migration = %x, want 8 plain bytes of 2 (an older binary reads it)", v)
		}
		if tx.Bucket(bucketMeta).Get(keyMigrate) != nil {
			t.Error("migration cursor left behind")
		}
		return nil
	})
}

// TestMigrateCrashAnywhere stops the migration after every possible number
// of batches (as a crash would) and checks that Open finishes it and the
// store reads as before.
func TestMigrateCrashAnywhere(t *testing.T) {
	want := schema1Golden(t)
	for stop := 0; ; stop++ {
		path := copySchema1(t)
		db, err := bolt.Open(path, fileMode, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(startMigration); err != nil {
			t.Fatal(err)
		}
		finished := false
		for range stop {
			err := db.Update(func(tx *bolt.Tx) (err error) {
				_, finished, err = migrateStep(tx, 4096)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if finished {
				break
			}
		}
		_ = db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, seqKey(2)) {
				t.Errorf("stop %d: schema mid-migration = %x; an older binary must see 2 and refuse", stop, v)
			}
			return nil
		})
		_ = db.Close()
		s, err := Open(testConfig(t, path))
		if err != nil {
			t.Fatalf("stop %d: Open: %v", stop, err)
		}
		got, err := readAll(s)
		_ = s.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stop %d: store after resumed migration differs (err %v)", stop, err)
		}
		if finished {
			t.Logf("migration of testdata/schema1.db takes %d batches of 4 KiB", stop)
			return
		}
	}
}

// TestFlippedTextIsRefused is issue 16's scenario 3: one bit of a stored
// message's text flipped ('x' to 'y').
func TestFlippedTextIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpenAt(t, path)
	mustApply(t, s, entry(1, t0, mkChan("general")), entry(2, t0, msg("id1", "general", "hello xylophone")))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Flipped under the open store: the reads must catch it, not just
	// Open's checks.
	s = mustOpenUnchecked(t, path)
	flipInFile(t, path, []byte("hello x"), 6, 0x01) // 'x' (0x78) -> 'y' (0x79)
	_, err := s.History("general", Query{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("History of a flipped text: %v, want ErrCorrupt", err)
	}
	const want = "state.db is damaged: bucket messages/general key 1: checksum mismatch; run `concord repair`"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("History error %q does not say %q", err, want)
	}
	if _, err := s.Lookup("id1"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Lookup of a flipped text: %v, want ErrCorrupt", err)
	}
	err = s.Check(context.Background(), nil)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "bucket messages/general key 1: checksum mismatch") {
		t.Errorf("Check: %v, want the damaged record named", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testConfig(t, path)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open of a small damaged store: %v, want ErrCorrupt from its check", err)
	}
}

// flipInFile xors the byte at offset off of every occurrence of marker in
// the file with mask (freed pages may hold stale copies).
func flipInFile(t *testing.T, path string, marker []byte, off int, mask byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, marker)
	if i < 0 {
		t.Fatalf("%q not in %s", marker, path)
	}
	for i >= 0 {
		b[i+off] ^= mask
		j := bytes.Index(b[i+1:], marker)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	writeInPlace(t, path, b)
}

// writeInPlace writes b over the file at path without truncating it, so
// that a store that has it open (and mapped) reads the change: damage that
// comes after Open's checks, as from a disk or memory going bad under a
// running member.
func writeInPlace(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesDamagedSnapshot(t *testing.T) {
	src := mustOpen(t)
	fillSample(t, src, 30)
	want := mustReadAll(t, src)
	sn, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	good := buf.Bytes()
	// Every copy of the text: bbolt's freed pages may hold stale ones.
	bad := bytes.ReplaceAll(good, []byte("message 7 "), []byte("messagf 7 "))

	dst := mustOpen(t)
	mustApply(t, dst, entry(1, t0, mkChan("mine")))
	err = dst.Restore(bytes.NewReader(bad))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("Restore of a damaged snapshot: %v, want ErrCorrupt naming a checksum mismatch", err)
	}
	if chs, err := dst.Channels(); err != nil || len(chs) != 1 || chs[0].Name != "mine" {
		t.Fatalf("state after a refused restore: %v, %v", chs, err)
	}
	if err := dst.Restore(bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if got := mustReadAll(t, dst); !bytes.Equal(got, want) {
		t.Fatal("restored store differs from its source")
	}
}

// TestRestoreSchema1Snapshot: a member still on schema 1 streams its file
// as it is; a new member restores and migrates it.
func TestRestoreSchema1Snapshot(t *testing.T) {
	b, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t)
	if err := s.Restore(bytes.NewReader(b)); err != nil {
		t.Fatalf("Restore of a schema 1 snapshot: %v", err)
	}
	if got := mustReadAll(t, s); !bytes.Equal(got, schema1Golden(t)) {
		t.Fatal("restored schema 1 snapshot reads differently")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	for _, tc := range []struct {
		name        string
		plain, copy uint64 // 0: no copy
		want        error
	}{
		{"newer release", 3, 3, ErrNewerSchema},
		{"flipped bit, copy intact", 3, 2, ErrCorrupt},
		{"flipped bit, no copy", 3, 0, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s := mustOpenAt(t, path)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, fileMode, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error {
				meta := tx.Bucket(bucketMeta)
				if tc.copy == 0 {
					_ = meta.Delete(keySchemaCopy)
				} else {
					_ = newBucket(meta, string(bucketMeta)).put(keySchemaCopy, seqKey(tc.copy))
				}
				return meta.Put(keySchema, seqKey(tc.plain))
			})
			_ = db.Close()
			_, err = Open(testConfig(t, path))
			// A newer release's file is refused and left alone, never set
			// aside and rebuilt; damage is ErrCorrupt.
			if !errors.Is(err, tc.want) || (tc.want == ErrNewerSchema) == errors.Is(err, ErrCorrupt) ||
				!strings.Contains(err.Error(), "schema version 3") {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestBBoltPanicIsAnError damages a page header so that bbolt panics
// ("Page expected to be ...") on the way to a message, and checks that the
// panic comes back as ErrCorrupt and the store still answers.
func TestBBoltPanicIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpenAt(t, path)
	fillSample(t, s, 300)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Damaged under the open store (Open walks every page, and would
	// refuse the file).
	s = mustOpenUnchecked(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The pages holding message 150's text (the live one and any stale
	// copy in a freed page): overwrite their ids.
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("message 150 "))
		if i < 0 {
			break
		}
		pg := (off + i) / 4096 * 4096
		b[pg] ^= 0xff
		off = pg + 4096
	}
	writeInPlace(t, path, b)
	_, err = s.History("random", Query{}) // message 150 is in random
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "Page expected to be") {
		t.Fatalf("History over a page with a wrong id: %v, want ErrCorrupt from bbolt's assertion", err)
	}
	if _, err := s.Members(); err != nil {
		t.Fatalf("Members after a recovered panic: %v", err)
	}
	if err := s.Check(context.Background(), nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check: %v", err)
	}
}
