package consensus

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// writeSnapshot stores an empty Raft snapshot at index in dir.
func writeSnapshot(t *testing.T, dir string, index uint64) {
	t.Helper()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, newHclog(slog.New(slog.DiscardHandler), "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// openLogStore drops damaged entries that the newest snapshot covers and
// refuses a log damaged after it, without truncating anything.
func TestOpenLogStoreDamagedLog(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		name      string
		damaged   uint64 // entry whose data gets a flipped bit
		snapshot  uint64
		wantFirst uint64 // 0: refused
	}{
		{"covered by the snapshot", 12, 50, 16},
		{"after the snapshot", 12, 10, 0},
		{"in the tail, no snapshot", 90, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			walDir := filepath.Join(dir, "wal")
			s, err := openLogStore(dir, testSegment, discard)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 60; i += 5 {
				if err := s.StoreLogs(entries(i, i+4, 1)); err != nil {
					t.Fatal(err)
				}
			}
			appendEach(t, s, entries(61, 100, 1))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if c.snapshot > 0 {
				writeSnapshot(t, dir, c.snapshot)
			}
			_, file := segmentOf(t, walDir, c.damaged)
			flipAt(t, file, entryFrame(t, file, c.damaged)+20, 0x10)

			s, err = openLogStore(dir, testSegment, discard)
			if c.wantFirst == 0 {
				if !errors.Is(err, ErrLogDamaged) {
					t.Fatalf("open: %v, want ErrLogDamaged", err)
				}
				t.Logf("refused: %v", err)
				if !strings.Contains(err.Error(), "concord repair --data "+filepath.Dir(dir)) {
					t.Errorf("the error does not say how to repair: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkLog(t, s, c.wantFirst, 100, func(uint64) uint64 { return 1 })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if d, err := scrubWAL(walDir); err != nil || len(d) > 0 {
				t.Fatalf("after the compaction: damage %v, %v", d, err)
			}
		})
	}
}
