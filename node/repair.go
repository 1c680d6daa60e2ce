package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"concord/consensus"
	"concord/storage"
)

// A damaged state.db is never patched: it is set aside (kept for a look,
// named state.db.damaged-TIME) and a new one is rebuilt from what this
// member's Raft snapshots and log hold; the rest comes from the team when
// the member runs, like any lagging member's. The outbox is a separate file
// and keeps every queued message. The search index is rebuilt from the new
// state, since it may hold text of the damaged one.

// CheckState opens state.db and checks all of it; nil means intact.
func CheckState(ctx context.Context, dir string, log *slog.Logger, progress func(done, total int)) error {
	// Not CheckOnOpen: Check below reads the whole file once more, with
	// the progress a large store needs (24 s cold for 1.2 GB).
	st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Check(ctx, progress)
}

// Rebuilt says what RebuildState did.
type Rebuilt struct {
	Aside   string // where the old state.db went
	Applied uint64 // the new state.db's applied index
}

// RebuildState sets state.db (and search.db) aside and builds a new
// state.db from this member's Raft snapshots and log.
func RebuildState(dir string, log *slog.Logger) (Rebuilt, error) {
	aside, err := setAsideState(dir, time.Now())
	if err != nil {
		return Rebuilt{}, err
	}
	st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return Rebuilt{}, err
	}
	err = consensus.RebuildState(filepath.Join(dir, "raft"), st, log)
	applied := st.AppliedIndex()
	if err = errors.Join(err, st.Close()); err != nil {
		return Rebuilt{}, fmt.Errorf("rebuild state.db: %w", err)
	}
	return Rebuilt{Aside: aside, Applied: applied}, nil
}

// setAsideState renames state.db to state.db.damaged-TIME and removes the
// search index (rebuilt from the state at the next start).
func setAsideState(dir string, now time.Time) (string, error) {
	path := filepath.Join(dir, "state.db")
	aside := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("set the damaged state.db aside: %w", err)
	}
	for _, name := range []string{"search.db", "search.db-wal", "search.db-shm"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("remove the search index: %w", err)
		}
	}
	return aside, nil
}

// openState opens the member's state.db; a damaged one is set aside and a
// new one is started, which consensus brings up to this member's newest
// Raft snapshot and the team then brings up to date. A damaged file never
// stops the member and is never served.
func openState(dir string, log *slog.Logger) (*storage.Store, error) {
	cfg := storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log}
	st, err := storage.Open(cfg)
	if err == nil || !errors.Is(err, storage.ErrCorrupt) {
		return st, err
	}
	aside, aerr := setAsideState(dir, time.Now())
	if aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	log.Error("state.db is damaged: set aside and rebuilt from this member's Raft log and the team", "err", err, "kept_as", aside)
	return storage.Open(cfg)
}

// ResetFromTeam is `concord repair --from-team`: nothing of this member's
// replicated state is kept (all of it set aside, nothing deleted); when it
// runs, the leader sends it a snapshot of the team's. Its outbox, identity
// and config stay. It returns where state.db and the Raft dir went.
func ResetFromTeam(dir string, log *slog.Logger) (stateAside, raftAside string, err error) {
	stateAside, err = setAsideState(dir, time.Now())
	if err != nil {
		return "", "", err
	}
	rep, err := consensus.ResetFromTeam(filepath.Join(dir, "raft"), log)
	if err != nil {
		return "", "", err
	}
	return stateAside, rep.Aside, nil
}
