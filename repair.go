package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// cmdRepair is `concord repair --data DIR [--force]`.
func cmdRepair(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("repair", stderr)
	force := fs.Bool("force", false, "rebuild state.db even when it checks out intact")
	fromTeam := fs.Bool("from-team", false, "set this member's state, Raft log and snapshots aside and take the team's (a diverged member)")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	if err := parseStopped(fs, "repair", args); err != nil {
		return err
	}
	log := newLogger(stderr, *logLevel)
	raftDir := filepath.Join(*data, "raft")
	if *fromTeam {
		return resetFromTeam(*data, stdout, log)
	}
	fmt.Fprintln(stdout, "checking the Raft log (every batch's checksum)…")
	if err := consensus.CheckLog(raftDir, log); errors.Is(err, consensus.ErrLogDamaged) {
		fmt.Fprintf(stdout, "%v\n", err)
		rep, err := consensus.RepairLog(raftDir, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "the damaged log is kept as %s; the team sends its entries when the member runs,\n"+
			"and until it has them this member does not vote.\n", filepath.Base(rep.Aside))
	} else if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "checking state.db (every record's checksum, key order and bbolt's meta pages)…")
	start := time.Now()
	damage := checkState(*data, log, func(done, total int) {
		fmt.Fprintf(stdout, "\r  %d of %d records", done, total)
	})
	fmt.Fprintln(stdout)
	switch {
	case damage == nil && !*force:
		fmt.Fprintf(stdout, "state.db is intact (checked in %v); nothing to repair.\n", time.Since(start).Round(time.Millisecond))
		return nil
	case damage == nil:
		fmt.Fprintln(stdout, "state.db is intact; rebuilding it anyway (--force).")
	case errors.Is(damage, storage.ErrLocked):
		return damage
	default:
		fmt.Fprintf(stdout, "%v\n", damage)
	}
	res, err := rebuildState(*data, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt state.db up to log entry %d from this member's Raft snapshot and log;\n"+
		"the damaged file is kept as %s. Start the member with `concord run`: the team\n"+
		"sends what came after, the search index is rebuilt, and the outbox kept its messages.\n",
		res.applied, filepath.Base(res.aside))
	return nil
}

// checkState opens state.db and checks all of it; nil means intact.
func checkState(dir string, log *slog.Logger, progress func(done, total int)) error {
	// Not CheckOnOpen: Check below reads the whole file once more, with
	// the progress a large store needs (24 s cold for 1.2 GB).
	st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Check(context.Background(), progress)
}

type rebuilt struct {
	aside   string // where the old state.db went
	applied uint64 // the new state.db's applied index
}

// rebuildState sets state.db (and search.db) aside and builds a new
// state.db from this member's Raft snapshots and log.
func rebuildState(dir string, log *slog.Logger) (rebuilt, error) {
	aside, err := setAsideState(dir, time.Now())
	if err != nil {
		return rebuilt{}, err
	}
	st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return rebuilt{}, err
	}
	err = consensus.RebuildState(filepath.Join(dir, "raft"), st, log)
	applied := st.AppliedIndex()
	if err = errors.Join(err, st.Close()); err != nil {
		return rebuilt{}, fmt.Errorf("rebuild state.db: %w", err)
	}
	return rebuilt{aside: aside, applied: applied}, nil
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

// resetFromTeam is `concord repair --from-team`: nothing of this member's
// replicated state is kept (all of it set aside, nothing deleted); when it
// runs, the leader sends it a snapshot of the team's. Its outbox, identity
// and config stay.
func resetFromTeam(dir string, stdout io.Writer, log *slog.Logger) error {
	aside, err := setAsideState(dir, time.Now())
	if err != nil {
		return err
	}
	rep, err := consensus.ResetFromTeam(filepath.Join(dir, "raft"), log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "set aside: %s, %s.\nStart the member with `concord run`: it takes the team's state from the leader,\n"+
		"and does not vote until it has caught up. Its outbox kept its messages.\n", filepath.Base(aside), rep.Aside)
	return nil
}
