package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/raft-wal/migrate"
	"go.etcd.io/bbolt"

	"concord/internal/durable"
)

// migrateBoltLog moves the Raft log and stable store of a data dir written
// by a version that kept them in raft-boltdb (dir/raft.db) into a WAL at
// walDir. The copy is built in walDir+".tmp" and renamed into place, so a
// crash part way leaves raft.db untouched and the next start copies again.
func migrateBoltLog(dir, walDir string, segSize int, log *slog.Logger) error {
	boltPath := filepath.Join(dir, "raft.db")
	if _, err := os.Stat(boltPath); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	if _, err := os.Stat(walDir); err == nil {
		// Renamed into place before a crash that left raft.db behind.
		return os.Remove(boltPath)
	}
	start := time.Now()
	tmp := walDir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	if err := copyBoltLog(boltPath, tmp, segSize, log); err != nil {
		return fmt.Errorf("consensus: move raft log %s to %s: %w", boltPath, walDir, err)
	}
	if err := os.Rename(tmp, walDir); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	log.Info("moved the raft log from raft-boltdb to raft-wal", "dir", walDir, "took", time.Since(start).Round(time.Millisecond))
	return os.Remove(boltPath)
}

func copyBoltLog(boltPath, tmp string, segSize int, log *slog.Logger) error {
	src, err := raftboltdb.New(raftboltdb.Options{Path: boltPath, BoltOptions: &bbolt.Options{
		Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openWAL(tmp, segSize, log)
	if err != nil {
		return err
	}
	last, err := src.LastIndex()
	if err == nil && last > 0 {
		err = migrate.CopyLogs(context.Background(), dst, src, 1<<20, nil)
	}
	if err == nil {
		err = copyStable(dst, src)
	}
	return errors.Join(err, dst.Close())
}

// copyStable copies the keys hashicorp/raft v1.8.0 keeps in its stable
// store (raft.go): a member that never voted has no LastVoteCand.
func copyStable(dst, src raft.StableStore) error {
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
		v, err := src.GetUint64([]byte(k))
		if errors.Is(err, raftboltdb.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := dst.SetUint64([]byte(k), v); err != nil {
			return err
		}
	}
	v, err := src.Get([]byte("LastVoteCand"))
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return dst.Set([]byte("LastVoteCand"), v)
}
