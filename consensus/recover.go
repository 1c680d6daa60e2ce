package consensus

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Recover rewrites this member's Raft state so that it is the team's only
// voter (raft.RecoverCluster), for a team that lost a quorum of voters for
// good. The member must be stopped; cfg is what New would get (Host gives
// the member's ID only; nothing is sent). Every entry in this member's log
// is applied, including any that the lost majority never committed, which
// is the price of recovering: docs/operations.md says when to pay it.
// cfg.Allow may be nil: nothing is served.
func Recover(cfg Config) error {
	if cfg.Allow == nil {
		cfg.Allow = func(peer.ID) bool { return false } // Validate wants one; no peer is heard
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger.With("component", "consensus")
	logs, snaps, err := openStores(cfg.Dir, cfg.Timing.WALSegment, log)
	if err != nil {
		return err
	}
	var fatal error
	f := newFSM(cfg.TeamID, cfg.Store, logs, log, func(err error) { fatal = err }, func() {}) // nil once resumed
	rc := raftConfig(cfg, log)
	_, trans := raft.NewInmemTransport(raft.ServerAddress(rc.LocalID))
	conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: raft.ServerAddress(rc.LocalID), Suffrage: raft.Voter}}}
	err = raft.RecoverCluster(rc, releasingFSM{f}, logs, logs, snaps, trans, conf)
	f.close() // writes whatever the applier still holds
	err = errors.Join(err, fatal, logs.Close(), trans.Close())
	if err != nil {
		return fmt.Errorf("consensus: recover: %w", err)
	}
	return nil
}

// releasingFSM releases each snapshot once persisted: RecoverCluster never
// calls Release (hashicorp/raft v1.8.0), and our snapshot holds a bbolt
// read transaction that would otherwise keep the store from closing.
type releasingFSM struct{ *fsm }

func (f releasingFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.fsm.Snapshot()
	if err != nil {
		return nil, err
	}
	return releaseAfterPersist{s}, nil
}

type releaseAfterPersist struct{ raft.FSMSnapshot }

func (s releaseAfterPersist) Persist(sink raft.SnapshotSink) error {
	defer s.Release()
	return s.FSMSnapshot.Persist(sink)
}
