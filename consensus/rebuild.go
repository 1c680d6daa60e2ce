package consensus

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/hashicorp/raft"

	"concord/storage"
)

// ErrNoRebuild says the state store is behind this member's Raft snapshots
// and cannot be brought up to them from this member's own files: every
// snapshot is damaged and the Raft log does not reach back far enough.
var ErrNoRebuild = errors.New("the chat state cannot be rebuilt from this member's Raft snapshot and log")

// Raft starts applying after its newest snapshot (NoSnapshotRestoreOnStart:
// the persistent store is assumed to hold everything up to it). A store
// that is behind it — state.db rebuilt after damage, or lost — would never
// get the entries in between. catchUpStore installs the newest snapshot the
// store lacks before Raft starts, or, when that snapshot is damaged, an
// older one plus the committed log entries up to the newest (everything up
// to a snapshot's index is committed).
func catchUpStore(store *storage.Store, logs raft.LogStore, snaps raft.SnapshotStore, log *slog.Logger) error {
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("consensus: list snapshots: %w", err)
	}
	applied := store.AppliedIndex()
	if len(list) == 0 || list[0].Index <= applied {
		return nil
	}
	target := list[0].Index
	var errs []error
	for _, meta := range list { // newest first
		if meta.Index <= applied {
			break
		}
		if err := restoreFile(store, snaps, meta); err != nil {
			log.Warn("cannot install this member's snapshot", "snapshot", meta.ID, "index", meta.Index, "err", err)
			errs = append(errs, fmt.Errorf("snapshot %s: %w", meta.ID, err))
			continue
		}
		if err := applyRange(store, logs, meta.Index+1, target); err != nil {
			return err
		}
		log.Info("brought the chat state up to the newest Raft snapshot", "snapshot", meta.ID, "from", applied, "index", target)
		return nil
	}
	// No snapshot newer than the store installs: the log may still reach
	// back to the store's own position.
	if err := applyRange(store, logs, store.AppliedIndex()+1, target); err != nil {
		return errors.Join(append(errs, err)...)
	}
	return nil
}

func restoreFile(store *storage.Store, snaps raft.SnapshotStore, meta *raft.SnapshotMeta) error {
	_, rc, err := snaps.Open(meta.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	return store.Restore(rc)
}

// applyRange applies the log's entries [from, to] to the store, which must
// all be committed, reading them with the FSM's decoding.
func applyRange(store *storage.Store, logs raft.LogStore, from, to uint64) error {
	if from > to {
		return nil
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("consensus: read raft log: %w", err)
	}
	if first == 0 || first > from {
		return fmt.Errorf("%w: it needs entries %d-%d, the log starts at %d", ErrNoRebuild, from, to, first)
	}
	f := &fsm{store: store, logs: logs, log: slog.New(slog.DiscardHandler)}
	if err := f.applyLog(from, to); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	return nil
}

// RebuildState brings a state store that is behind this member's Raft
// snapshots up to the newest one, from the snapshots and the log in dir
// (the member must not be running). `concord repair` calls it on a fresh
// state.db; a starting member does the same by itself.
func RebuildState(dir string, store *storage.Store, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logs, snaps, err := openStores(dir, defaultWALSegment, log)
	if err != nil {
		return err
	}
	return errors.Join(catchUpStore(store, logs, snaps, log), logs.Close())
}
