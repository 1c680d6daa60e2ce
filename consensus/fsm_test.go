package consensus

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"concord/storage"
)

// TestReplayDoesNotDecodeApplied: after a restart Raft replays its log
// through the FSM; entries the store already holds are not decoded (an
// entry that would not decode is not even looked at), later ones are.
func TestReplayDoesNotDecodeApplied(t *testing.T) {
	st, err := storage.Open(storage.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	data, err := encodeCommand(command{CommittedAt: at, Ops: []storage.Op{{Kind: storage.OpCreateChannel, Channel: "general"}}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply([]storage.Entry{{Index: 5, CommittedAt: at}}); err != nil {
		t.Fatal(err)
	}
	f := newFSM("test-team", st, raft.NewInmemStore(), slog.New(slog.DiscardHandler), func(err error) { t.Error(err) }, func() {})
	defer f.close()
	out := f.ApplyBatch([]*raft.Log{
		{Index: 4, Type: raft.LogCommand, Data: []byte("not a command")},
		{Index: 6, Type: raft.LogCommand, Data: data},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := out[0].(*pendingApply).wait(ctx); err != nil {
		t.Errorf("replayed entry 4 (already applied) was decoded: %v", err)
	}
	if _, err := out[1].(*pendingApply).wait(ctx); err != nil {
		t.Fatalf("entry 6: %v", err)
	}
	if _, err := st.Channel("general"); err != nil {
		t.Errorf("entry 6 not applied: %v", err)
	}
}
