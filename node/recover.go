package node

import (
	"context"
	"log/slog"
	"path/filepath"

	"concord/consensus"
	"concord/p2p"
	"concord/storage"
)

// Recover makes the stopped member in dir its team's only voter: the way
// back for a team that lost a quorum of its voters for good
// (docs/operations.md).
func Recover(ctx context.Context, dir string, log *slog.Logger) error {
	conf, err := LoadConfig(dir)
	if err != nil {
		return err
	}
	store, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	// A closed host with nobody allowed: it only gives Raft the member's
	// identity; nothing is dialled.
	h, err := p2p.New(ctx, p2p.Config{DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Closed: true, Logger: log})
	if err != nil {
		return err
	}
	defer h.Close()
	log.Info("recovering", "member", h.ID(), "team", conf.TeamName)
	return consensus.Recover(consensus.Config{TeamID: conf.TeamID, Host: h.Host(), Dir: filepath.Join(dir, "raft"), Store: store, Logger: log})
}
