package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Migration from schema 1 (values without checksums) to schema 2 (every
// value sealed, record.go) runs at Open, before anything reads the store.
//
// It runs in bounded batches, one bbolt transaction each, rather than in one
// transaction: a single transaction rewriting a 1 GB store keeps every dirty
// page in memory until commit (several GB of heap) and writes it all at
// once. Each batch seals up to migrateBatchBytes of values and records in
// meta (keyMigrate) the bucket and key it got to, in the same transaction,
// so a crash at any point leaves either the state before a batch or after
// it, and the next Open resumes from the recorded key. The first
// transaction seals meta's own values and sets the schema to 2, so an older
// binary refuses a half-migrated store ("schema version 2, this binary
// reads 1") instead of misreading its sealed values; the last one deletes
// keyMigrate. Nothing else writes while it runs, so the order of buckets
// and keys it walks is the same on every resume.

// migrateBatchBytes bounds the values sealed by one migration transaction.
const migrateBatchBytes = 8 << 20

// migrateCursor is where a migration has got to: the bucket (its path from
// the top level) and the last key sealed in it; key nil means none yet.
type migrateCursor struct {
	path []string
	key  []byte
}

func (c migrateCursor) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(len(c.path)))
	for _, p := range c.path {
		b = AppendString(b, p)
	}
	if c.key == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(c.key)))
	return append(b, c.key...)
}

func decodeMigrateCursor(b []byte) (migrateCursor, error) {
	var c migrateCursor
	r := NewReader(b)
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		c.path = append(c.path, r.String())
	}
	if r.Byte() == 1 {
		k := r.Uvarint()
		if r.Err() == nil && k != uint64(r.Len()) {
			return c, fmt.Errorf("%w: migration cursor key of %d bytes, %d left", ErrCorrupt, k, r.Len())
		}
		c.key = bytes.Clone(b[len(b)-r.Len():])
	}
	if r.Err() != nil {
		return c, fmt.Errorf("%w: migration cursor: %v", ErrCorrupt, r.Err())
	}
	return c, nil
}

// migrate brings a store at schema ver up to schemaVersion.
func (s *Store) migrate(db *bolt.DB, ver uint64) error {
	if ver == schemaVersion {
		var pending bool
		err := s.guard(func() error {
			return db.View(func(tx *bolt.Tx) error {
				pending = tx.Bucket(bucketMeta).Get(keyMigrate) != nil
				return nil
			})
		})
		if err != nil || !pending {
			return err
		}
		s.log.Warn("storage: resuming the migration to schema 2 left by a crash", "path", s.cfg.Path)
	} else {
		s.log.Info("storage: migrating to schema 2 (checksums)", "path", s.cfg.Path)
		if err := s.guard(func() error { return db.Update(startMigration) }); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", schemaVersion, err)
		}
	}
	start := time.Now() // for the log only
	total, steps := 0, 0
	for {
		var n int
		var done bool
		err := s.guard(func() error {
			return db.Update(func(tx *bolt.Tx) (err error) {
				n, done, err = migrateStep(tx, migrateBatchBytes)
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("migrate to schema %d: %w", schemaVersion, err)
		}
		total += n
		steps++
		if done {
			break
		}
	}
	s.log.Info("storage: migrated to schema 2", "path", s.cfg.Path, "records", total,
		"transactions", steps, "took", time.Since(start))
	return nil
}

// startMigration seals meta's values and sets the schema to 2 with the
// cursor at the start.
func startMigration(tx *bolt.Tx) error {
	meta, err := topBucket(tx, bucketMeta)
	if err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	var all []kv
	err = meta.b.ForEach(func(k, v []byte) error {
		if !bytes.Equal(k, keySchema) && v != nil {
			all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := meta.put(r.k, r.v); err != nil {
			return err
		}
	}
	if err := meta.put(keyMigrate, migrateCursor{}.encode()); err != nil {
		return err
	}
	return putSchema(meta.b)
}

// migratePaths lists every bucket holding values, meta excepted, in a fixed
// order: each top-level bucket, then the buckets nested in it.
func migratePaths(tx *bolt.Tx) [][]string {
	var out [][]string
	var walk func(b *bolt.Bucket, path []string)
	walk = func(b *bolt.Bucket, path []string) {
		out = append(out, path)
		_ = b.ForEachBucket(func(k []byte) error {
			walk(b.Bucket(k), append(slices.Clip(path), string(k)))
			return nil
		})
	}
	_ = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if !bytes.Equal(name, bucketMeta) {
			walk(b, []string{string(name)})
		}
		return nil
	})
	return out
}

func bucketAt(tx *bolt.Tx, path []string) *bolt.Bucket {
	b := tx.Bucket([]byte(path[0]))
	for _, p := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket([]byte(p))
	}
	return b
}

// migrateStep seals up to budget bytes of values from the cursor on and
// advances it; done is true when it has sealed the last one.
func migrateStep(tx *bolt.Tx, budget int) (n int, done bool, err error) {
	meta, err := topBucket(tx, bucketMeta)
	if err != nil {
		return 0, false, err
	}
	raw, err := meta.get(keyMigrate)
	if err != nil || raw == nil {
		return 0, raw == nil, err
	}
	cur, err := decodeMigrateCursor(raw)
	if err != nil {
		return 0, false, err
	}
	paths := migratePaths(tx)
	i := 0
	if cur.path != nil {
		i = slices.IndexFunc(paths, func(p []string) bool { return slices.Equal(p, cur.path) })
		if i < 0 {
			return 0, false, fmt.Errorf("%w: migration cursor names bucket %q, which is missing",
				ErrCorrupt, strings.Join(cur.path, "/"))
		}
	}
	size := 0
	for ; i < len(paths) && size < budget; i++ {
		path := paths[i]
		raw := bucketAt(tx, path)
		b := newBucket(raw, strings.Join(path, "/"))
		type kv struct{ k, v []byte }
		var batch []kv
		c := raw.Cursor()
		var k, v []byte
		switch {
		case !slices.Equal(path, cur.path) || cur.key == nil:
			k, v = c.First()
		default:
			if k, v = c.Seek(cur.key); k != nil && bytes.Equal(k, cur.key) {
				k, v = c.Next()
			}
		}
		for ; k != nil && size < budget; k, v = c.Next() {
			if v == nil && raw.Bucket(k) != nil {
				continue
			}
			batch = append(batch, kv{bytes.Clone(k), bytes.Clone(v)})
			size += len(k) + len(v)
		}
		// Put after the walk: writing under a bbolt cursor invalidates it.
		for _, r := range batch {
			if err := b.put(r.k, r.v); err != nil {
				return n, false, err
			}
		}
		n += len(batch)
		if k != nil {
			// Budget spent inside this bucket.
			return n, false, meta.put(keyMigrate, migrateCursor{path: path, key: batch[len(batch)-1].k}.encode())
		}
		cur = migrateCursor{}
	}
	if i < len(paths) {
		return n, false, meta.put(keyMigrate, migrateCursor{path: paths[i]}.encode())
	}
	return n, true, meta.delete(keyMigrate)
}
