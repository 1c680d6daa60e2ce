package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/metadb"

	"concord/internal/durable"
)

// ErrLogDamaged is wrapped by the error a member gets when its Raft log has
// damaged committed entries after its newest snapshot (bitrot, not a torn
// write): it must not vote with that log, and must not truncate it either
// (Protocol-Aware Recovery, FAST '18: one replica's sector fault "repaired"
// that way can lose a committed entry team-wide). RepairLog sets the log
// aside so the entries are fetched from the team.
var ErrLogDamaged = errors.New("the Raft log is damaged")

// scrubLogDir scrubs the log in walDir before it is opened. Damage in
// entries the newest snapshot in dir covers is harmless once those entries
// are gone (nothing needs them, but a leader would send them to a lagging
// follower): it returns the last such index for the caller to compact away
// from the head, 0 if none. Damage after the snapshot is ErrLogDamaged.
func scrubLogDir(dir, walDir string, log *slog.Logger) (uint64, error) {
	damage, err := scrubWAL(walDir)
	if err != nil {
		return 0, fmt.Errorf("consensus: scrub the raft log %s: %w", walDir, err)
	}
	if len(damage) == 0 {
		return 0, nil
	}
	snap, err := newestSnapshot(dir, log)
	if err != nil {
		return 0, err
	}
	var covered uint64
	var after []walDamage
	for _, d := range damage {
		if d.Last <= snap {
			covered = max(covered, d.Last)
			log.Warn("dropping damaged raft log entries that the newest snapshot covers",
				"index", d.First, "last_index", d.Last, "segment", d.Segment, "snapshot_index", snap, "why", d.Why)
			continue
		}
		after = append(after, d)
	}
	if len(after) > 0 {
		d := after[0]
		more := ""
		if len(after) > 1 {
			more = fmt.Sprintf(" and %d more places", len(after)-1)
		}
		// dir is DIR/raft (node.go): repair works on the data directory.
		return 0, fmt.Errorf("%w at entries %d-%d (segment %d)%s: this member must not vote with it; "+
			"run `concord repair --data %s` to fetch them from the team",
			ErrLogDamaged, d.First, d.Last, d.Segment, more, filepath.Dir(dir))
	}
	return covered, nil
}

// newestSnapshot returns the index of the newest Raft snapshot in dir, 0
// without one.
func newestSnapshot(dir string, log *slog.Logger) (uint64, error) {
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, newHclog(log, "snapshot"))
	if err != nil {
		return 0, fmt.Errorf("consensus: open snapshots: %w", err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return 0, err
	}
	return list[0].Index, nil
}

// CheckLog scrubs the Raft log in dir (the member's Raft directory) and
// returns an error wrapping ErrLogDamaged when committed entries after the
// newest snapshot are damaged, nil otherwise.
func CheckLog(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, err := scrubLogDir(dir, filepath.Join(dir, "wal"), log)
	return err
}

// RepairReport says what RepairLog did.
type RepairReport struct {
	Damage []string // the damaged entry ranges found, for the user
	Aside  string   // where the damaged log's files are kept
}

// stableKeys are the keys hashicorp/raft v1.8.0 keeps in its stable store
// (raft.go): the member's current term and its vote in it.
var stableKeys = []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"}

// RepairLog replaces the damaged Raft log in dir (the member's Raft
// directory; the member must not be running) with an empty one that keeps
// the member's term and vote. The damaged log is renamed aside, never
// deleted; the snapshots stay. When the member runs again the leader sends
// it the entries after its newest snapshot, or a snapshot if it compacted
// them: the damaged entries are re-fetched from the team.
//
// Why this keeps Raft safe, and where it does not by itself: the term and
// vote (raft-wal's meta store, not the segments) are the member's promise
// not to vote twice in a term, and are copied before the old log is set
// aside, so it cannot vote twice in a term. But with its log emptied back
// to its snapshot, hashicorp/raft grants its vote to any candidate whose
// last entry is at least as new as the snapshot (raft.go requestVote
// compares only last term and index). A committed entry that only this
// member and the old leader held (a majority of three) can then be lost:
// the leader dies, a candidate lacking the entry wins with this member's
// vote, and its log overwrites the entry. So after RepairLog the member must
// not vote until it has re-fetched what it lost: RepairLog marks it so
// (noVoteFile), and the member's Raft transport refuses vote and pre-vote
// requests until it holds the commit index of the first leader it hears
// from (voteguard.go).
func RepairLog(dir string, log *slog.Logger) (RepairReport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rep RepairReport
	walDir := filepath.Join(dir, "wal")
	if err := finishRepair(dir); err != nil {
		return rep, err
	}
	damage, err := scrubWAL(walDir)
	if err != nil {
		return rep, fmt.Errorf("consensus: scrub the raft log %s: %w", walDir, err)
	}
	for _, d := range damage {
		rep.Damage = append(rep.Damage, d.String())
	}
	// No vote until caught up (voteguard.go), marked before anything
	// moves: a crash later never leaves an emptied log that votes.
	if err := writeSynced(filepath.Join(dir, noVoteFile)); err != nil {
		return rep, fmt.Errorf("consensus: mark the member as not voting: %w", err)
	}
	// The new log is complete, term and vote in it, before the old one
	// moves: a crash in between leaves either log in place (finishRepair).
	fresh := walDir + ".new"
	if err := os.RemoveAll(fresh); err != nil {
		return rep, err
	}
	if err := copyStableMeta(fresh, walDir); err != nil {
		return rep, fmt.Errorf("consensus: keep the term and vote: %w", err)
	}
	rep.Aside = fmt.Sprintf("%s.damaged-%s", walDir, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(walDir, rep.Aside); err != nil {
		return rep, fmt.Errorf("consensus: set the damaged raft log aside: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return rep, err
	}
	if err := finishRepair(dir); err != nil {
		return rep, err
	}
	log.Info("set the damaged raft log aside; the team sends its entries when the member runs",
		"aside", rep.Aside, "damage", len(damage))
	return rep, nil
}

// copyStableMeta creates an empty raft-wal log in dst that has the stable
// store values of the log in src, synced.
func copyStableMeta(dst, src string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	var from, to metadb.BoltMetaDB
	if _, err := from.Load(src); err != nil {
		return err
	}
	defer from.Close()
	if _, err := to.Load(dst); err != nil {
		return err
	}
	for _, k := range stableKeys {
		v, err := from.GetStable([]byte(k))
		if err != nil {
			return errors.Join(err, to.Close())
		}
		if len(v) == 0 {
			continue // never voted
		}
		if err := to.SetStable([]byte(k), v); err != nil { // a bolt transaction: synced
			return errors.Join(err, to.Close())
		}
	}
	if err := to.Close(); err != nil {
		return err
	}
	return durable.SyncDir(dst)
}

// finishRepair completes a RepairLog that a crash interrupted: once the
// damaged log is aside, the new one takes its place. Before that the new
// one is incomplete and goes.
func finishRepair(dir string) error {
	walDir, fresh := filepath.Join(dir, "wal"), filepath.Join(dir, "wal.new")
	if _, err := os.Stat(fresh); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(walDir); err == nil {
		return os.RemoveAll(fresh)
	}
	if err := os.Rename(fresh, walDir); err != nil {
		return fmt.Errorf("consensus: put the repaired raft log in place: %w", err)
	}
	return durable.SyncDir(dir)
}

// writeSynced creates an empty file at path, durably.
func writeSynced(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(path))
}

// ResetFromTeam sets this member's whole Raft state aside — its log (as
// RepairLog does, keeping the term and vote and the no-vote mark) and its
// snapshots — so that the leader sends it a snapshot of the team's state
// when it runs: for a member whose own snapshots may carry a divergence.
// The member must not be running; nothing is deleted.
func ResetFromTeam(dir string, log *slog.Logger) (RepairReport, error) {
	rep, err := RepairLog(dir, log)
	if err != nil {
		return rep, err
	}
	snaps := filepath.Join(dir, "snapshots")
	if _, err := os.Stat(snaps); errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	aside := fmt.Sprintf("%s.set-aside-%s", snaps, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(snaps, aside); err != nil {
		return rep, fmt.Errorf("consensus: set the snapshots aside: %w", err)
	}
	rep.Aside += ", " + aside
	return rep, durable.SyncDir(dir)
}
