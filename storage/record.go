package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Every value this package stores (schema 2 on) ends with a 4-byte
// big-endian CRC32C over the bucket's path, a 0 byte, the key's length as
// a uvarint, the key and the value:
//
//	stored value = value, crc32c(path, 0, uvarint len(key), key, value)
//
// bbolt has no checksum of its own below the meta pages, so without this a
// flipped bit in a message's text was served as the text. The key and the
// path are covered so that a flipped bit in a key, or a bucket's root that
// now points at another bucket's pages, shows as well. All reads and writes
// of values go through bucket, which adds and verifies the sum; the only
// value stored without one is meta's schema version, which must stay 8
// plain bytes so an older binary can still read it and refuse the file.

// sumSize is the size of the checksum that ends every stored value.
const sumSize = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bucket is a bbolt bucket whose values carry checksums. path names it in
// sums and errors ("channels", "messages/general").
type bucket struct {
	b    *bolt.Bucket
	path string
	seed uint32 // crc of path and the 0 byte after it
}

func newBucket(b *bolt.Bucket, path string) bucket {
	seed := crc32.Update(0, castagnoli, []byte(path))
	return bucket{b: b, path: path, seed: crc32.Update(seed, castagnoli, []byte{0})}
}

// topBucket returns the top-level bucket name, ErrCorrupt if it is missing.
func topBucket(tx *bolt.Tx, name []byte) (bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return bucket{}, fmt.Errorf("%w: no %s bucket", ErrCorrupt, name)
	}
	return newBucket(b, string(name)), nil
}

// sub returns the nested bucket name, ok false if there is none.
func (b bucket) sub(name string) (bucket, bool) {
	s := b.b.Bucket([]byte(name))
	if s == nil {
		return bucket{}, false
	}
	return newBucket(s, b.path+"/"+name), true
}

func (b bucket) sum(k, v []byte) uint32 {
	var n [binary.MaxVarintLen64]byte
	c := crc32.Update(b.seed, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(k)))])
	c = crc32.Update(c, castagnoli, k)
	return crc32.Update(c, castagnoli, v)
}

// seal appends the checksum to v (reusing its spare capacity).
func (b bucket) seal(k, v []byte) []byte {
	return binary.BigEndian.AppendUint32(v, b.sum(k, v))
}

// open verifies a stored value read under key k and returns it without its
// checksum (aliasing v).
func (b bucket) open(k, v []byte) ([]byte, error) {
	if len(v) < sumSize {
		return nil, b.damage(k, fmt.Sprintf("value of %d bytes has no checksum", len(v)))
	}
	body := v[:len(v)-sumSize]
	if binary.BigEndian.Uint32(v[len(body):]) != b.sum(k, body) {
		return nil, b.damage(k, "checksum mismatch")
	}
	return body, nil
}

// get returns k's verified value, nil if k is absent.
func (b bucket) get(k []byte) ([]byte, error) {
	v := b.b.Get(k)
	if v == nil {
		return nil, nil
	}
	return b.open(k, v)
}

// has reports whether k is present with an intact value.
func (b bucket) has(k []byte) (bool, error) {
	v, err := b.get(k)
	return v != nil, err
}

// put stores v under k with its checksum. v's spare capacity may be used.
func (b bucket) put(k, v []byte) error {
	return b.b.Put(k, b.seal(k, v))
}

func (b bucket) delete(k []byte) error { return b.b.Delete(k) }

// forEach calls fn with every verified value; nested buckets are skipped.
func (b bucket) forEach(fn func(k, v []byte) error) error {
	c := b.b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested bucket
		}
		body, err := b.open(k, v)
		if err != nil {
			return err
		}
		if err := fn(k, body); err != nil {
			return err
		}
	}
	return nil
}

func (b bucket) damage(k []byte, why string) error {
	return &damageError{where: "bucket " + b.path + " key " + keyString(k), why: why}
}

// damageError is a record that fails its checksum. It matches ErrCorrupt.
type damageError struct{ where, why string }

func (e *damageError) Error() string        { return e.where + ": " + e.why }
func (e *damageError) Is(target error) bool { return target == ErrCorrupt }

// keyString shows a key in an error: text as text, a seq as its number,
// anything else in hex.
func keyString(k []byte) string {
	// A key read through a damaged leaf can be any size (one flipped bit
	// in its length made a 512 MB key): show its start.
	const show = 64
	if len(k) > show {
		return keyString(k[:show]) + fmt.Sprintf("… (%d bytes)", len(k))
	}
	printable := utf8.Valid(k)
	for _, c := range k {
		if c < 0x20 || c == 0x7f {
			printable = false
			break
		}
	}
	switch {
	case printable && len(k) > 0:
		return strconv.Quote(string(k))
	case len(k) == 8:
		return strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
	default:
		return fmt.Sprintf("%x", k)
	}
}
