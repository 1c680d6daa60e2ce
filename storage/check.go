package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// DefaultCheckOnOpenMax is the largest file whose channels Open
// cross-checks against their messages without being asked
// (Config.CheckOnOpen, Config.CheckOnOpenMax). bbolt's tree and every
// record's checksum are checked at every open whatever the size
// (pagecheck.go). Check reads the whole file: measured (TestCheckCost) on a
// 1.19 GB state.db, 1.0 s from the page cache (an earlier VM of this kind
// took 24 s cold; bbolt's pages are read in tree order, not sequentially).
const DefaultCheckOnOpenMax = 64 << 20

// Check reads the whole store: every record's checksum, the order of the
// keys in every bucket, the cross references between channels and their
// message buckets, both of bbolt's meta pages, and bbolt's tree and free
// list (checkTree). It returns nil for an
// intact store and otherwise an error wrapping ErrCorrupt that names the
// first damage found. progress, if not nil, is called now and then with
// the records checked so far and the total. Apply and reads go on
// meanwhile: it reads in one read transaction.
func (s *Store) Check(ctx context.Context, progress func(done, total int)) error {
	err := s.view(func(tx *bolt.Tx) error {
		// The tree first, as this transaction sees it (its pages are not
		// reused while it is open, whatever Apply writes meanwhile): a
		// cursor over a branch page that names itself as its child loops,
		// growing its stack until the process runs out of memory.
		if err := checkMetaPages(s.cfg.Path, tx.DB().Info().PageSize); err != nil {
			return err
		}
		// Its structure only: checkRecords verifies every checksum next,
		// with progress.
		if err := checkTreeFile(ctx, s.cfg.Path, tx.DB().Info().PageSize, uint64(tx.ID()), true, false); err != nil {
			return err
		}
		return checkRecords(ctx, tx, progress)
	})
	if err != nil {
		return fmt.Errorf("storage: check: %w", err)
	}
	return nil
}

// checkFull says whether Open checks the whole file: when it is small or
// the config asks (a file that does not exist yet gives ErrNotExist and
// true).
func (s *Store) checkFull() (bool, error) {
	fi, err := os.Stat(s.cfg.Path)
	if err != nil {
		return true, err
	}
	return s.cfg.CheckOnOpen || fi.Size() <= s.cfg.checkOnOpenMax(), nil
}

// crossCheckOnOpen runs after the migration, when full: channels against
// their messages, and both meta pages (Open's first commit rewrote a torn
// one). Every record's checksum and the tree were checked before bbolt
// opened the file (openBolt).
func (s *Store) crossCheckOnOpen(db *bolt.DB, full bool) error {
	if !full {
		return nil
	}
	return s.guard(func() error {
		if err := db.View(checkChannels); err != nil {
			return err
		}
		return checkMetaPages(s.cfg.Path, db.Info().PageSize)
	})
}

// Neither Check nor Open runs bbolt's own consistency check (tx.Check):
// bbolt runs it on a goroutine of its own, where neither a panic nor a
// fault reading past the file can be recovered, and the bit-flip sweep
// (TestBitFlips) found a flipped branch-key offset that checkRecords read
// through safely but that made bbolt's key-order check fault and kill the
// process (SIGBUS) — at every start, a restart loop. checkTree
// (pagecheck.go) does the same checks on the caller's goroutine.

// bbolt's page header and meta page layout (go.etcd.io/bbolt's
// internal/common): header = id u64, flags u16, count u16, overflow u32;
// meta (after the header) = magic u32, version u32, page size u32, flags
// u32, root bucket (root u64, sequence u64), freelist u64, pgid u64, txid
// u64, checksum u64 (FNV-64a of the fields before it). Native byte order.
const (
	pageHeaderSize   = 16
	metaSize         = 64
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	noFreelist       = ^uint64(0)
)

// checkMetaPages checks that both meta pages are intact. bbolt survives a
// torn one by opening with the other, and its next commit rewrites it, so
// this is for a file that has been committed to since it was opened (or a
// snapshot, whose meta pages are written together).
func checkMetaPages(path string, pageSize int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	for id := uint64(0); id < 2; id++ {
		if _, err := readBoltMeta(f, id, pageSize); err != nil {
			return err
		}
	}
	return nil
}

// checkProgressEvery is how many records pass between progress calls (and
// checks of ctx).
const checkProgressEvery = 4096

// checkRecords verifies every value's checksum in tx and that each channel
// has its message bucket and messages 1..Messages, no more, no fewer.
func checkRecords(ctx context.Context, tx *bolt.Tx, progress func(done, total int)) error {
	if _, err := readMeta(tx); err != nil {
		return err
	}
	total := 0
	if progress != nil {
		// Stats walks the pages without reading values, which is cheap
		// next to the checksums.
		_ = tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			total += b.Stats().KeyN
			return nil
		})
	}
	done := 0
	tick := func() error {
		done++
		if done%checkProgressEvery != 0 {
			return nil
		}
		if progress != nil {
			progress(done, total)
		}
		return ctx.Err()
	}
	var walk func(b bucket) error
	walk = func(b bucket) error {
		c := b.b.Cursor()
		var prev []byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			// Keys come in order; a flipped bit in a branch page's key can
			// break that, and no record checksum would notice.
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				return fmt.Errorf("%w: bucket %s: key %s after %s: out of order", ErrCorrupt, b.path, keyString(k), keyString(prev))
			}
			prev = append(prev[:0], k...)
			if v == nil {
				if sub, ok := b.sub(string(k)); ok {
					if err := walk(sub); err != nil {
						return err
					}
					continue
				}
			}
			if b.path == string(bucketMeta) && string(k) == string(keySchema) {
				continue // the one value without a checksum
			}
			if _, err := b.open(k, v); err != nil {
				return err
			}
			if err := tick(); err != nil {
				return err
			}
		}
		return nil
	}
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return walk(newBucket(b, string(name)))
	})
	if err != nil {
		return err
	}
	if err := checkChannels(tx); err != nil {
		return err
	}
	if progress != nil {
		progress(done, total)
	}
	return nil
}

// checkChannels matches channel records against message buckets: a lost
// record or a renamed bucket would otherwise only show as a missing channel.
func checkChannels(tx *bolt.Tx) error {
	channels, err := topBucket(tx, bucketChannels)
	if err != nil {
		return err
	}
	messages, err := topBucket(tx, bucketMessages)
	if err != nil {
		return err
	}
	seen := 0
	err = channels.forEach(func(k, v []byte) error {
		var ch Channel
		if err := decodeJSON(v, &ch, "channel "+string(k)); err != nil {
			return err
		}
		seen++
		b, ok := messages.sub(string(k))
		if !ok {
			return fmt.Errorf("%w: channel %q has no message bucket", ErrCorrupt, k)
		}
		return checkSeqs(b, ch.Messages)
	})
	if err != nil {
		return err
	}
	subs := 0
	_ = messages.b.ForEachBucket(func([]byte) error { subs++; return nil })
	if subs != seen {
		return fmt.Errorf("%w: %d channel records but %d message buckets", ErrCorrupt, seen, subs)
	}
	return nil
}

// checkSeqs checks that b holds exactly the seqs 1..n.
func checkSeqs(b bucket, n uint64) error {
	want := uint64(1)
	c := b.b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		seq, err := decodeUint64(k, "message key")
		if err != nil {
			return err
		}
		if seq != want {
			return fmt.Errorf("%w: bucket %s: message %d where %d was expected", ErrCorrupt, b.path, seq, want)
		}
		want++
	}
	if want != n+1 {
		return fmt.Errorf("%w: bucket %s: %d messages, the channel says %d", ErrCorrupt, b.path, want-1, n)
	}
	return nil
}
