package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sync"

	"concord/storage"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Hit is one message that matched a search. The text is not kept in the
// index: read it from the store (storage.Store.Lookup or History).
type Hit struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	Seq     uint64 `json:"seq"`
	Index   uint64 `json:"index"` // Raft index of the entry that carried it
}

// Each message's FTS5 rowid is its Raft index shifted left by slotBits plus
// its order of arrival within that entry: ordering by rowid is commit order,
// which lets FTS5 answer "newest first" by walking its doclists backwards.
const (
	slotBits = 20
	maxSlot  = 1<<slotBits - 1
	maxIndex = 1<<(63-slotBits) - 1
)

const schemaVersion = 1

var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS msgs(
		rid     INTEGER PRIMARY KEY,
		id      TEXT NOT NULL UNIQUE,
		channel TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		idx     INTEGER NOT NULL)`,
	`INSERT OR IGNORE INTO meta(k, v) VALUES ('version', 1), ('indexed', 0), ('changes', 0)`,
}

// ftsTable is the FTS5 table: contentless (the text lives in the store),
// contentless_delete to keep the door open for edits and deletes, and
// prefix indexes (%s) so that "ab*" does not merge the doclists of every
// term starting with "ab": see docs/benchmarks.md.
const ftsTable = `CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, content='',
	contentless_delete=1, tokenize='unicode61 remove_diacritics 2'%s)`

// defaultPrefixes are the prefix lengths FTS5 keeps an index for.
const defaultPrefixes = "2 3"

// Index is a member's full-text index. It is safe for concurrent use: Add
// calls are serialised, searches run beside them (SQLite WAL).
type Index struct {
	cfg  Config
	log  *slog.Logger
	db   *sql.DB
	page int // catch-up page size: catchUpPage, smaller in tests

	wmu        sync.Mutex // serialises writers
	indexed    uint64     // guarded by wmu; mirrors meta 'indexed'
	changes    uint64     // guarded by wmu; mirrors meta 'changes' (changes.go)
	catchingUp int        // guarded by wmu; >0 while CatchUp runs
	// catchUpFailed (guarded by wmu) holds Indexed after a failed CatchUp.
	catchUpFailed bool
	pendingMax    uint64 // guarded by wmu; highest Index Added while held

	scanMu sync.Mutex        // serialises catch-ups
	seen   map[string]uint64 // guarded by scanMu; channel -> messages scanned

	afterCatchUp func(indexed uint64) // tests: called after each successful catch-up

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// Open opens (or creates) the index in cfg.Dir. A file that is not a valid
// index gives an error wrapping ErrCorrupt.
func Open(cfg Config) (*Index, error) {
	return open(cfg, defaultPrefixes)
}

// open is Open with the FTS5 prefix lengths of a new index ("" for none);
// the benchmark compares them.
func open(cfg Config, prefixes string) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("search: open: %w", err)
	}
	// The index holds every message's text: private like the other files
	// of the data dir. SQLite gives its -wal and -shm files the main file's
	// mode, so creating (or tightening) that one first is enough.
	if err := privateFile(cfg.Path()); err != nil {
		return nil, fmt.Errorf("search: open: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(OFF)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Path()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("search: open: %w", err)
	}
	db.SetMaxOpenConns(cfg.Readers + 1)
	db.SetMaxIdleConns(cfg.Readers + 1)
	ix := &Index{cfg: cfg, log: cfg.Logger.With("component", "search"), db: db, page: catchUpPage, closed: make(chan struct{})}
	if err := ix.init(prefixes); err != nil {
		db.Close()
		return nil, err
	}
	return ix, nil
}

// privateFile creates path empty with mode 0600 if it does not exist, and
// takes group and other access away if it does (an index made by an
// earlier release was 0644).
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (ix *Index) init(prefixes string) error {
	ctx := context.Background()
	if prefixes != "" {
		prefixes = fmt.Sprintf(", prefix='%s'", prefixes)
	}
	for _, s := range append(slices.Clone(schema), fmt.Sprintf(ftsTable, prefixes)) {
		if _, err := ix.db.ExecContext(ctx, s); err != nil {
			return wrap("open", err)
		}
	}
	var version int64
	if err := ix.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k='version'`).Scan(&version); err != nil {
		return wrap("open", err)
	}
	if version != schemaVersion {
		return fmt.Errorf("search: open: schema version %d, want %d: %w", version, schemaVersion, ErrCorrupt)
	}
	var indexed int64
	if err := ix.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k='indexed'`).Scan(&indexed); err != nil {
		return wrap("open", err)
	}
	ix.indexed = uint64(indexed)
	var changes int64
	if err := ix.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k='changes'`).Scan(&changes); err != nil {
		return wrap("open", err)
	}
	ix.changes = uint64(changes)
	return nil
}

// Indexed returns the highest Raft index whose messages the index holds:
// CatchUp starts after it.
func (ix *Index) Indexed() uint64 {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.indexed
}

// Add indexes msgs in one transaction and records the highest Raft index
// among them as covered. Messages already indexed (same ID) are skipped, so
// replaying a batch is harmless. Pass messages in apply order, and all the
// messages of one Raft entry in the same call (several entries per call are
// fine): Indexed counts whole entries, so an entry split across two calls
// with a crash in between would lose its second part until a Rebuild.
func (ix *Index) Add(msgs []storage.Message) error {
	return ix.add(context.Background(), msgs, true)
}

// add writes msgs; advance says whether the covered index may move (not
// during a catch-up, whose scan goes channel by channel).
func (ix *Index) add(ctx context.Context, msgs []storage.Message, advance bool) error {
	if ix.isClosed() {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("add", err)
	}
	defer tx.Rollback() // no-op after Commit
	insMsg, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO msgs(rid, id, channel, seq, idx) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return wrap("add", err)
	}
	defer insMsg.Close()
	insText, err := tx.PrepareContext(ctx, `INSERT INTO fts(rowid, text) VALUES (?, ?)`)
	if err != nil {
		return wrap("add", err)
	}
	defer insText.Close()
	// The rows are written with a context that cannot end: with one that
	// can, the driver starts a goroutine per statement to interrupt it,
	// which cost the indexer a tenth of its CPU. ctx is checked between
	// rows instead, and the transaction still ends with it.
	rowCtx := context.WithoutCancel(ctx)
	next := map[uint64]int64{} // Raft index -> next free rowid in its slot range
	var high uint64
	for i, m := range msgs {
		if i%256 == 255 && ctx.Err() != nil {
			return wrap("add", ctx.Err())
		}
		if m.Index > maxIndex {
			return fmt.Errorf("search: add %s: raft index %d too large", m.ID, m.Index)
		}
		high = max(high, m.Index)
		rid, ok := next[m.Index]
		if !ok {
			if rid, err = nextRowid(rowCtx, tx, m.Index); err != nil {
				return err
			}
		}
		if rid > int64(m.Index)<<slotBits|maxSlot {
			return fmt.Errorf("search: add %s: more than %d messages in raft entry %d", m.ID, maxSlot+1, m.Index)
		}
		res, err := insMsg.ExecContext(rowCtx, rid, m.ID, m.Channel, int64(m.Seq), int64(m.Index))
		if err != nil {
			return wrap("add", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Ignored: the ID is indexed already (a replay), or, which
			// would be a bug, the rowid was taken.
			var one int
			if err := tx.QueryRowContext(rowCtx, `SELECT 1 FROM msgs WHERE id = ?`, m.ID).Scan(&one); err != nil {
				return fmt.Errorf("search: add %s: rowid %d taken: %w", m.ID, rid, err)
			}
			next[m.Index] = rid
			continue
		}
		if _, err := insText.ExecContext(rowCtx, rid, m.Text); err != nil {
			return wrap("add", err)
		}
		next[m.Index] = rid + 1
	}
	hold := ix.catchingUp > 0 || ix.catchUpFailed
	covered := ix.indexed
	if advance && !hold && high > covered {
		covered = high
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET v=? WHERE k='indexed'`, int64(covered)); err != nil {
			return wrap("add", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap("add", err)
	}
	ix.indexed = covered
	if advance && hold {
		ix.pendingMax = max(ix.pendingMax, high)
	}
	return nil
}

// nextRowid returns the first free rowid in raft index idx's slot range.
func nextRowid(ctx context.Context, tx *sql.Tx, idx uint64) (int64, error) {
	lo := int64(idx) << slotBits
	var last sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT max(rid) FROM msgs WHERE rid BETWEEN ? AND ?`, lo, lo|maxSlot).Scan(&last)
	if err != nil {
		return 0, wrap("add", err)
	}
	if !last.Valid {
		return lo, nil
	}
	return last.Int64 + 1, nil
}

// setIndexed records idx as covered if it is higher than what is recorded.
// Caller holds wmu.
func (ix *Index) setIndexedLocked(ctx context.Context, idx uint64) error {
	if idx <= ix.indexed {
		return nil
	}
	if _, err := ix.db.ExecContext(ctx, `UPDATE meta SET v=? WHERE k='indexed'`, int64(idx)); err != nil {
		return wrap("set indexed", err)
	}
	ix.indexed = idx
	return nil
}

// Close closes the index file. It is idempotent; searches running when it
// is called finish first.
func (ix *Index) Close() error {
	ix.closeOnce.Do(func() {
		close(ix.closed)
		ix.wmu.Lock()
		defer ix.wmu.Unlock()
		ix.closeErr = ix.db.Close()
	})
	return ix.closeErr
}

func (ix *Index) isClosed() bool {
	select {
	case <-ix.closed:
		return true
	default:
		return false
	}
}

// Remove deletes the index files of cfg (the database and its WAL), for a
// rebuild after ErrCorrupt. The Index must be closed.
func Remove(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	p := cfg.Path()
	for _, f := range []string{p, p + "-wal", p + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("search: remove: %w", err)
		}
	}
	return nil
}

// wrap names the operation and maps SQLite's corruption codes to ErrCorrupt.
func wrap(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("search: %s: %w (%v)", op, ErrCorrupt, err)
		}
	}
	return fmt.Errorf("search: %s: %w", op, err)
}

// Check verifies the index file and the FTS5 structures (it reads the whole
// file: seconds on a large index). A damaged index gives ErrCorrupt.
func (ix *Index) Check(ctx context.Context) error {
	if ix.isClosed() {
		return ErrClosed
	}
	var res string
	if err := ix.db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return wrap("check", err)
	}
	if res != "ok" {
		return fmt.Errorf("search: check: %w: %s", ErrCorrupt, res)
	}
	if _, err := ix.db.ExecContext(ctx, `INSERT INTO fts(fts, rank) VALUES ('integrity-check', 0)`); err != nil {
		return wrap("check", err)
	}
	return nil
}
