package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The record checksums (record.go) cover every value, its key and its
// bucket's path, but not bbolt's own tree: a flipped bit in a branch page's
// key made a record unreachable by lookup ("not found") while a cursor still
// listed it, and a flipped root or child page id made a bucket read as an
// older, intact version of itself that copy-on-write had left in a free
// page — both served with no error (the bit-flip sweep, TestBitFlips).
//
// checkTree walks the tree in the file, as bbolt's own check (tx.Check)
// does, and fails on anything bbolt would misread: every page reached from
// the root must lie below the high-water mark, say it is the page it is,
// be a branch or a leaf, hold its elements inside itself, and be reached
// once; no page may be both reached and free, or neither; keys must be in
// order within a page and inside the range the branch above gives them.
// It reads the file with ReadAt and checks every offset before using it,
// on the caller's goroutine: bbolt's check runs on a goroutine of its own,
// where the sweep found damage that made it fault and kill the process.

// bbolt's on-disk layout (go.etcd.io/bbolt v1.4 internal/common), beyond
// the page header and meta page in check.go: a branch element is pos u32,
// ksize u32, child pgid u64; a leaf element is flags u32, pos u32, ksize
// u32, vsize u32, where pos counts from the element itself and the value
// follows the key. A bucket's value is its root pgid u64 and sequence u64,
// followed, when root is 0, by the bucket's only page (inline).
const (
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	branchPageFlag     = 0x01
	leafPageFlag       = 0x02
	bucketLeafFlag     = 0x01
	branchElemSize     = 16
	leafElemSize       = 16
	bucketHeaderSize   = 16
	freelistCountLimit = 0xFFFF
	maxTreeDepth       = 64
)

// boltMeta is what checkTree needs from a meta page.
type boltMeta struct {
	root, freelist, hwm, txid uint64
}

// readBoltMeta decodes and verifies meta page id of the file.
func readBoltMeta(r io.ReaderAt, id uint64, pageSize int) (boltMeta, error) {
	b := make([]byte, pageHeaderSize+metaSize)
	if _, err := r.ReadAt(b, int64(id)*int64(pageSize)); err != nil {
		return boltMeta{}, fmt.Errorf("%w: meta page %d: %v", ErrCorrupt, id, err)
	}
	if flags := binary.NativeEndian.Uint16(b[8:]); flags != metaPageFlag {
		return boltMeta{}, fmt.Errorf("%w: meta page %d has flags %#x", ErrCorrupt, id, flags)
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	if h.Sum64() != binary.NativeEndian.Uint64(m[56:]) {
		return boltMeta{}, fmt.Errorf("%w: meta page %d fails its checksum", ErrCorrupt, id)
	}
	if binary.NativeEndian.Uint32(m) != boltMagic || binary.NativeEndian.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, fmt.Errorf("%w: meta page %d is not a bbolt %d meta page", ErrCorrupt, id, boltVersion)
	}
	if ps := binary.NativeEndian.Uint32(m[8:]); int(ps) != pageSize {
		return boltMeta{}, fmt.Errorf("%w: meta page %d gives page size %d, not %d", ErrCorrupt, id, ps, pageSize)
	}
	return boltMeta{
		root:     binary.NativeEndian.Uint64(m[16:]),
		freelist: binary.NativeEndian.Uint64(m[32:]),
		hwm:      binary.NativeEndian.Uint64(m[40:]),
		txid:     binary.NativeEndian.Uint64(m[48:]),
	}, nil
}

// currentMeta picks the meta page bbolt opens the file with: the one with
// the higher transaction id if it is intact, else the other (a torn meta
// write is how bbolt survives a crash, so it is not damage). With txid
// not 0 it wants the meta of that transaction (a read transaction's, which
// keeps its pages from being reused while it is open).
func currentMeta(r io.ReaderAt, pageSize int, txid uint64) (boltMeta, error) {
	if txid != 0 {
		m, err := readBoltMeta(r, txid%2, pageSize)
		if err == nil && m.txid != txid {
			err = fmt.Errorf("meta page %d moved on to transaction %d", txid%2, m.txid)
		}
		return m, err
	}
	a, errA := readBoltMeta(r, 0, pageSize)
	b, errB := readBoltMeta(r, 1, pageSize)
	if errA == nil && errB == nil {
		if b.txid > a.txid {
			return b, nil
		}
		return a, nil
	}
	switch {
	case errA == nil:
		return a, nil
	case errB == nil:
		return b, nil
	}
	return boltMeta{}, errA
}

// treeCheck is one walk of the tree.
type treeCheck struct {
	ctx      context.Context
	r        io.ReaderAt
	pageSize int
	hwm      uint64
	state    []byte // per page: 0 not seen, pageUsed, pageFree
	read     int    // pages read, for ctx checks
	shallow  bool   // the top bucket's pages only, not the buckets' own
	sealed   bool   // every value carries its checksum (record.go): verify it
}

const (
	pageUsed = 1
	pageFree = 2
)

// checkTreeFile checks the bbolt file at path (see checkTree).
func checkTreeFile(ctx context.Context, path string, pageSize int, txid uint64, tree, sealed bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return checkTree(ctx, f, pageSize, txid, tree, sealed)
}

// checkTree checks, under the meta page currentMeta picks, the free list
// and the top bucket's pages with the buckets stored inline in them
// (cheap, and what Open's first commit builds on: from a flipped free page
// id bbolt allocated pages far past the end of the file, and from a
// flipped value size a 1 GB page) and, with tree, the whole tree: every
// page below the high-water mark is reached exactly once from the root or
// the free list, and every reached page is sound (see above).
func checkTree(ctx context.Context, r io.ReaderAt, pageSize int, txid uint64, tree, sealed bool) error {
	m, err := currentMeta(r, pageSize, txid)
	if err != nil {
		return err
	}
	if m.hwm < 2 || m.hwm > 1<<40 {
		return fmt.Errorf("%w: meta says the file has %d pages", ErrCorrupt, m.hwm)
	}
	c := &treeCheck{ctx: ctx, r: r, pageSize: pageSize, hwm: m.hwm, state: make([]byte, m.hwm), sealed: sealed}
	c.state[0], c.state[1] = pageUsed, pageUsed
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return fmt.Errorf("free list: %w", err)
		}
	}
	c.shallow = !tree
	if err := c.page(m.root, nil, nil, 0, ""); err != nil {
		return err
	}
	if c.shallow || m.freelist == noFreelist {
		return nil // free pages are not listed: nothing to account
	}
	for id, st := range c.state {
		if st == 0 {
			return fmt.Errorf("%w: page %d is neither in the tree nor free", ErrCorrupt, id)
		}
	}
	return nil
}

// load reads page id with its overflow pages and marks them used.
func (c *treeCheck) load(id uint64) ([]byte, error) {
	if c.read++; c.read%checkProgressEvery == 0 {
		if err := c.ctx.Err(); err != nil {
			return nil, err
		}
	}
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("%w: page %d is outside the file's %d pages", ErrCorrupt, id, c.hwm)
	}
	b := make([]byte, c.pageSize)
	if _, err := c.r.ReadAt(b, int64(id)*int64(c.pageSize)); err != nil {
		return nil, fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
	}
	if got := binary.NativeEndian.Uint64(b); got != id {
		return nil, fmt.Errorf("%w: page %d says it is page %d", ErrCorrupt, id, got)
	}
	overflow := uint64(binary.NativeEndian.Uint32(b[12:]))
	if id+overflow >= c.hwm {
		return nil, fmt.Errorf("%w: page %d runs %d pages past the end of the file", ErrCorrupt, id, overflow)
	}
	for p := id; p <= id+overflow; p++ {
		switch c.state[p] {
		case pageUsed:
			return nil, fmt.Errorf("%w: page %d is reached twice", ErrCorrupt, p)
		case pageFree:
			return nil, fmt.Errorf("%w: page %d is in use and free", ErrCorrupt, p)
		}
		c.state[p] = pageUsed
	}
	if overflow > 0 {
		b = append(b, make([]byte, int(overflow)*c.pageSize)...)
		if _, err := c.r.ReadAt(b[c.pageSize:], int64(id+1)*int64(c.pageSize)); err != nil {
			return nil, fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
		}
	}
	return b, nil
}

// freelist marks the free list's own pages used and the pages it lists
// free. bbolt writes the ids sorted.
func (c *treeCheck) freelist(id uint64) error {
	b, err := c.load(id)
	if err != nil {
		return err
	}
	if flags := binary.NativeEndian.Uint16(b[8:]); flags != freelistPageFlag {
		return fmt.Errorf("%w: free list page %d has flags %#x", ErrCorrupt, id, flags)
	}
	body := b[pageHeaderSize:]
	n := uint64(binary.NativeEndian.Uint16(b[10:]))
	if n == freelistCountLimit {
		if len(body) < 8 {
			return fmt.Errorf("%w: free list page %d is cut short", ErrCorrupt, id)
		}
		n, body = binary.NativeEndian.Uint64(body), body[8:]
	}
	if n > uint64(len(body)/8) {
		return fmt.Errorf("%w: free list page %d lists %d pages but holds at most %d", ErrCorrupt, id, n, len(body)/8)
	}
	prev := uint64(1)
	for i := range n {
		p := binary.NativeEndian.Uint64(body[i*8:])
		switch {
		case p <= prev:
			return fmt.Errorf("%w: free list page %d: page %d after %d", ErrCorrupt, id, p, prev)
		case p >= c.hwm:
			return fmt.Errorf("%w: free list page %d: page %d is outside the file's %d pages", ErrCorrupt, id, p, c.hwm)
		case c.state[p] != 0:
			return fmt.Errorf("%w: page %d is in use and free", ErrCorrupt, p)
		}
		c.state[p], prev = pageFree, p
	}
	return nil
}

// page checks the branch or leaf page id, whose keys must lie in [lo, hi)
// (nil: unbounded), and everything under it.
func (c *treeCheck) page(id uint64, lo, hi []byte, depth int, path string) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("%w: the tree is deeper than %d pages at page %d", ErrCorrupt, maxTreeDepth, id)
	}
	b, err := c.load(id)
	if err != nil {
		return err
	}
	switch flags := binary.NativeEndian.Uint16(b[8:]); flags {
	case branchPageFlag:
		return c.branch(id, b, lo, hi, depth, path)
	case leafPageFlag:
		end, err := c.leaf(fmt.Sprintf("leaf page %d", id), b, lo, hi, depth, path)
		if err != nil {
			return err
		}
		// Only the top bucket's page is ever an empty leaf (a new file):
		// bbolt removes an emptied page, and stores a bucket without
		// nested buckets that fits in a quarter page inline.
		if end == pageHeaderSize && depth > 0 {
			return fmt.Errorf("%w: leaf page %d is empty", ErrCorrupt, id)
		}
		return c.fitted(id, b, end)
	default:
		return fmt.Errorf("%w: page %d in the tree has flags %#x", ErrCorrupt, id, flags)
	}
}

// elements checks the layout bbolt's writer (WriteInodeToPage) gives a
// page of n elements of elemSize bytes: the elements' keys (and values)
// follow the element headers back to back, in element order, and end
// inside the page. A flipped bit in a count, a position or a size breaks
// that even where every key and value still reads: a count one lower
// drops the last record of a page (for a bucket of one, all of it), and
// no checksum sees a record that is not there. It calls fn with each key
// and value and returns where the last one ends.
func elements(where string, b []byte, n int, leaf bool, fn func(i int, k, v []byte, flags uint32) error) (int, error) {
	elemSize := branchElemSize
	if leaf {
		elemSize = leafElemSize
	}
	end := pageHeaderSize + n*elemSize
	if end > len(b) {
		return 0, fmt.Errorf("%w: %s has %d elements, more than fit", ErrCorrupt, where, n)
	}
	for i := range n {
		at := pageHeaderSize + i*elemSize
		var flags, pos, ksize, vsize uint32
		if leaf {
			flags, pos = binary.NativeEndian.Uint32(b[at:]), binary.NativeEndian.Uint32(b[at+4:])
			ksize, vsize = binary.NativeEndian.Uint32(b[at+8:]), binary.NativeEndian.Uint32(b[at+12:])
		} else {
			pos, ksize = binary.NativeEndian.Uint32(b[at:]), binary.NativeEndian.Uint32(b[at+4:])
		}
		kv := uint64(ksize) + uint64(vsize)
		if uint64(at)+uint64(pos) != uint64(end) || ksize == 0 || uint64(end)+kv > uint64(len(b)) {
			return 0, fmt.Errorf("%w: %s: element %d of %d is not where the one before it ends", ErrCorrupt, where, i, n)
		}
		k, v := b[end:end+int(ksize)], b[end+int(ksize):end+int(kv)]
		end += int(kv)
		if err := fn(i, k, v, flags); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// fitted checks that a page of end bytes spans as many pages as bbolt
// allocates for it.
func (c *treeCheck) fitted(id uint64, b []byte, end int) error {
	if want := (end - 1) / c.pageSize; want != len(b)/c.pageSize-1 {
		return fmt.Errorf("%w: page %d spans %d pages, its content %d", ErrCorrupt, id, len(b)/c.pageSize, want+1)
	}
	return nil
}

func (c *treeCheck) branch(id uint64, b, lo, hi []byte, depth int, path string) error {
	where := fmt.Sprintf("branch page %d", id)
	n := int(binary.NativeEndian.Uint16(b[10:]))
	if n == 0 {
		return fmt.Errorf("%w: %s has no elements", ErrCorrupt, where)
	}
	keys := make([][]byte, n)
	kids := make([]uint64, n)
	end, err := elements(where, b, n, false, func(i int, k, _ []byte, _ uint32) error {
		if err := inRange(k, keys, i, lo, hi); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		keys[i], kids[i] = k, binary.NativeEndian.Uint64(b[pageHeaderSize+i*branchElemSize+8:])
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.fitted(id, b, end); err != nil {
		return err
	}
	for i, kid := range kids {
		next := hi
		if i+1 < n {
			next = keys[i+1]
		}
		// The first child may hold keys below this page's first key
		// only down to the range this page was given.
		from := keys[i]
		if i == 0 {
			from = lo
		}
		if err := c.page(kid, from, next, depth+1, path); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks a leaf page (or a bucket's inline page, where names it) and
// walks into the buckets it holds. It returns where its content ends.
//
// With sealed it verifies every value's checksum, as a read would: a
// flipped bit in a key that leaves it in order ("last_commit" read as
// "last_cmmmit") makes the record missing under its own key, which no
// read can tell from a record never written.
func (c *treeCheck) leaf(where string, b, lo, hi []byte, depth int, path string) (int, error) {
	if len(b) < pageHeaderSize {
		return 0, fmt.Errorf("%w: %s is cut short", ErrCorrupt, where)
	}
	n := int(binary.NativeEndian.Uint16(b[10:]))
	keys := make([][]byte, n)
	return elements(where, b, n, true, func(i int, k, v []byte, flags uint32) error {
		if err := inRange(k, keys, i, lo, hi); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		keys[i] = k
		switch flags {
		case 0:
			return c.value(path, k, v)
		case bucketLeafFlag:
			return c.bucket(where, k, v, depth, path)
		default:
			return fmt.Errorf("%w: %s: element %d has flags %#x", ErrCorrupt, where, i, flags)
		}
	})
}

// bucket walks the bucket stored under key k with header v.
func (c *treeCheck) bucket(where string, k, v []byte, depth int, parent string) error {
	path := string(k)
	if parent != "" {
		path = parent + "/" + path
	}
	if len(v) < bucketHeaderSize {
		return fmt.Errorf("%w: %s: bucket %s has a header of %d bytes", ErrCorrupt, where, keyString(k), len(v))
	}
	root := binary.NativeEndian.Uint64(v)
	switch {
	case root != 0 && c.shallow:
		return nil
	case root != 0:
		return c.page(root, nil, nil, depth+1, path)
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize {
		return fmt.Errorf("%w: %s: inline bucket %s is cut short", ErrCorrupt, where, keyString(k))
	}
	if flags := binary.NativeEndian.Uint16(inline[8:]); flags != leafPageFlag {
		return fmt.Errorf("%w: %s: inline bucket %s has flags %#x", ErrCorrupt, where, keyString(k), flags)
	}
	end, err := c.leaf(fmt.Sprintf("inline bucket %s in %s", keyString(k), where), inline, nil, nil, depth+1, path)
	if err == nil && end != len(inline) {
		// bbolt sizes an inline page to its content exactly.
		err = fmt.Errorf("%w: %s: inline bucket %s holds %d bytes, its content %d", ErrCorrupt, where, keyString(k), len(inline), end)
	}
	return err
}

// value verifies the checksum of value v stored under key k in the bucket
// at path, when the file is sealed.
func (c *treeCheck) value(path string, k, v []byte) error {
	switch {
	case !c.sealed:
		return nil
	case path == "":
		return fmt.Errorf("%w: a value %s outside every bucket", ErrCorrupt, keyString(k))
	case path == string(bucketMeta) && bytes.Equal(k, keySchema):
		return nil // the one value without a checksum
	}
	_, err := newBucket(nil, path).open(k, v)
	return err
}

// inRange checks that key k (element i) comes after keys[i-1] and lies in
// [lo, hi).
func inRange(k []byte, keys [][]byte, i int, lo, hi []byte) error {
	switch {
	case i > 0 && bytes.Compare(keys[i-1], k) >= 0:
		return fmt.Errorf("%w: key %s after %s: out of order", ErrCorrupt, keyString(k), keyString(keys[i-1]))
	case lo != nil && bytes.Compare(k, lo) < 0:
		return fmt.Errorf("%w: key %s below its branch's %s", ErrCorrupt, keyString(k), keyString(lo))
	case hi != nil && bytes.Compare(k, hi) >= 0:
		return fmt.Errorf("%w: key %s at or past the next branch's %s", ErrCorrupt, keyString(k), keyString(hi))
	}
	return nil
}

// precheck checks the bbolt file at path, if there is one, before it is
// opened for writing (openBolt says why): the free list, and with tree the
// whole tree. It opens the file read-only first, which takes a shared lock
// (so a member running on it gives ErrLocked, not a check of a file that
// is changing) and reads the page size, and which does not read the free
// list.
func precheck(path string, timeout time.Duration, tree bool) error {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return nil // a new file; bbolt creates it
	}
	db, err := openBolt(path, timeout, true, false)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if err := checkTreeFile(context.Background(), path, db.Info().PageSize, 0, tree, isSealed(db)); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return nil
}

// isSealed says whether every value in db carries its checksum: a state
// store at schema 2 or later with no migration under way. It is false for
// a file it cannot tell (a damaged meta bucket is the walk's to report).
func isSealed(db *bolt.DB) (sealed bool) {
	defer func() { _ = recover() }() // bbolt trusts its pages
	_ = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		sealed = meta != nil && meta.Get(keySchemaCopy) != nil && meta.Get(keyMigrate) == nil
		return nil
	})
	return sealed
}
