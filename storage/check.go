package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"

	bolt "go.etcd.io/bbolt"
)

// DefaultCheckOnOpenMax is the largest file Open checks in full without
// being asked (Config.CheckOnOpen, Config.CheckOnOpenMax). Check reads
// the whole file: measured (TestCheckCost) on a 1.19 GB state.db, 0.43 s
// from the page cache but 24 s cold on this kind of VM's virtual disk
// (bbolt's pages are read in tree order, not sequentially). At 64 MiB a
// cold start pays about 1.3 s; above it every record is still verified
// when read, and `concord repair` runs the whole check on demand.
const DefaultCheckOnOpenMax = 64 << 20

// Check reads the whole store: every record's checksum, the order of the
// keys in every bucket, the cross references between channels and their
// message buckets, and the headers of bbolt's meta and free list pages
// (checkPages says why not bbolt's own check). It returns nil for an
// intact store and otherwise an error wrapping ErrCorrupt that names the
// first damage found. progress, if not nil, is called now and then with
// the records checked so far and the total. Apply and reads go on
// meanwhile: it reads in one read transaction.
func (s *Store) Check(ctx context.Context, progress func(done, total int)) error {
	err := s.view(func(tx *bolt.Tx) error { return checkRecords(ctx, tx, progress) })
	if err == nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.db == nil {
			return ErrClosed
		}
		err = s.guard(func() error { return checkPages(s.db) })
	}
	if err != nil {
		return fmt.Errorf("storage: check: %w", err)
	}
	return nil
}

// checkOnOpen checks db in full when it is small or the config asks.
func (s *Store) checkOnOpen(db *bolt.DB) error {
	fi, err := os.Stat(s.cfg.Path)
	if err != nil {
		return err
	}
	if !s.cfg.CheckOnOpen && fi.Size() > s.cfg.checkOnOpenMax() {
		return nil
	}
	err = s.guard(func() error {
		return db.View(func(tx *bolt.Tx) error { return checkRecords(context.Background(), tx, nil) })
	})
	if err == nil {
		err = s.guard(func() error { return checkPages(db) })
	}
	return err
}

// checkPages checks the pages checkRecords does not walk: the two meta
// pages and the free list page, reading the file (not the mmap).
//
// It does not run bbolt's own consistency check (tx.Check): bbolt runs it
// on a goroutine of its own, where neither a panic nor a fault reading
// past the file can be recovered, and the bit-flip sweep (TestBitFlips)
// found a flipped branch-key offset that checkRecords read through safely
// but that made bbolt's key-order check fault and kill the process (SIGBUS)
// — at every start, a restart loop. checkRecords checks key order itself,
// on the caller's goroutine, where faults are recovered (guard).
func checkPages(db *bolt.DB) error {
	return checkMetaPages(db.Path(), db.Info().PageSize)
}

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

// checkMetaPages checks the headers of both meta pages and of the free
// list page the current meta names, reading the file (not the mmap).
func checkMetaPages(path string, pageSize int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	header := func(id uint64, n int) ([]byte, error) {
		b := make([]byte, n)
		if _, err := f.ReadAt(b, int64(id)*int64(pageSize)); err != nil {
			return nil, fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
		}
		if got := binary.NativeEndian.Uint64(b); got != id {
			return nil, fmt.Errorf("%w: page %d says it is page %d", ErrCorrupt, id, got)
		}
		return b, nil
	}
	var freelist, txid uint64
	found := false
	for id := uint64(0); id < 2; id++ {
		b, err := header(id, pageHeaderSize+metaSize)
		if err != nil {
			return err
		}
		if flags := binary.NativeEndian.Uint16(b[8:]); flags != metaPageFlag {
			return fmt.Errorf("%w: meta page %d has flags %#x", ErrCorrupt, id, flags)
		}
		m := b[pageHeaderSize:]
		h := fnv.New64a()
		_, _ = h.Write(m[:56])
		if h.Sum64() != binary.NativeEndian.Uint64(m[56:]) {
			return fmt.Errorf("%w: meta page %d fails its checksum", ErrCorrupt, id)
		}
		if t := binary.NativeEndian.Uint64(m[48:]); !found || t > txid {
			found, txid, freelist = true, t, binary.NativeEndian.Uint64(m[32:])
		}
	}
	if freelist == noFreelist {
		return nil
	}
	b, err := header(freelist, pageHeaderSize)
	if err != nil {
		return fmt.Errorf("free list: %w", err)
	}
	if flags := binary.NativeEndian.Uint16(b[8:]); flags != freelistPageFlag {
		return fmt.Errorf("%w: free list page %d has flags %#x", ErrCorrupt, freelist, flags)
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
