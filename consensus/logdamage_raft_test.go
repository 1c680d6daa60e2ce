package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/types"

	"concord/internal/testutil"
)

// listFSM keeps every applied command, in order, and snapshots them all.
type listFSM struct {
	mu   sync.Mutex
	list []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, string(l.Data))
	return nil
}

func (f *listFSM) state() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) { return listSnapshot(f.state()), nil }

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var list []string
	if err := json.NewDecoder(rc).Decode(&list); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = list
	return nil
}

type listSnapshot []string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode([]string(s)); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}
func (listSnapshot) Release() {}

// A follower whose log is damaged after its snapshot refuses to open it;
// RepairLog sets it aside keeping the term and vote, and the restarted
// follower gets the entries back from the leader (a snapshot, the leader
// having compacted its log, then entries) and ends with the leader's state.
func TestRepairLogRefetchesFromTeam(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-member Raft cluster")
	}
	discard := slog.New(slog.DiscardHandler)
	dirC := t.TempDir()
	ids := []raft.ServerID{"a", "b", "c"}
	var conf raft.Configuration
	trans := map[raft.ServerID]*raft.InmemTransport{}
	for _, id := range ids {
		_, trans[id] = raft.NewInmemTransport(raft.ServerAddress(id))
		conf.Servers = append(conf.Servers, raft.Server{ID: id, Address: raft.ServerAddress(id)})
	}
	connect := func() {
		for _, a := range ids {
			for _, b := range ids {
				if a != b {
					trans[a].Connect(raft.ServerAddress(b), trans[b])
				}
			}
		}
	}
	connect()
	config := func(id raft.ServerID) *raft.Config {
		rc := raft.DefaultConfig()
		rc.LocalID = id
		rc.Logger = newHclog(discard, "raft")
		rc.HeartbeatTimeout, rc.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
		rc.LeaderLeaseTimeout, rc.CommitTimeout = 50*time.Millisecond, 5*time.Millisecond
		rc.TrailingLogs, rc.SnapshotThreshold, rc.SnapshotInterval = 10, 1<<20, time.Hour
		return rc
	}
	nodes := map[raft.ServerID]*raft.Raft{}
	fsms := map[raft.ServerID]*listFSM{}
	var storeC *logStore
	startC := func() {
		t.Helper()
		var err error
		if storeC, err = openLogStore(dirC, testSegment, discard); err != nil {
			t.Fatal(err)
		}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dirC, 2, newHclog(discard, "snapshot"))
		if err != nil {
			t.Fatal(err)
		}
		fsms["c"] = &listFSM{}
		if nodes["c"], err = raft.NewRaft(config("c"), fsms["c"], storeC, storeC, snaps, trans["c"]); err != nil {
			t.Fatal(err)
		}
	}
	stopC := func() {
		t.Helper()
		if err := nodes["c"].Shutdown().Error(); err != nil {
			t.Fatal(err)
		}
		if err := storeC.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []raft.ServerID{"a", "b"} {
		mem := raft.NewInmemStore()
		rc := config(id)
		if id == "a" { // only a can campaign: it leads
			if err := raft.BootstrapCluster(rc, mem, mem, raft.NewInmemSnapshotStore(), trans[id], conf); err != nil {
				t.Fatal(err)
			}
		} else {
			rc.ElectionTimeout, rc.HeartbeatTimeout = time.Hour, time.Hour
		}
		fsms[id] = &listFSM{}
		r, err := raft.NewRaft(rc, fsms[id], mem, mem, raft.NewInmemSnapshotStore(), trans[id])
		if err != nil {
			t.Fatal(err)
		}
		nodes[id] = r
		t.Cleanup(func() { _ = r.Shutdown().Error() })
	}
	startC()
	t.Cleanup(func() { _ = nodes["c"].Shutdown().Error(); storeC.Close() })
	leader := nodes["a"]
	testutil.WaitFor(t, 10*time.Second, "a to lead", func() bool { return leader.State() == raft.Leader })
	next := 0
	apply := func(n int) {
		t.Helper()
		for range n {
			next++
			if err := leader.Apply(fmt.Appendf(nil, "op %d %0150d", next, 0), 5*time.Second).Error(); err != nil {
				t.Fatalf("apply %d: %v", next, err)
			}
		}
	}
	same := func() bool { return slices.Equal(fsms["c"].state(), fsms["a"].state()) }

	apply(40)
	testutil.WaitFor(t, 10*time.Second, "c to catch up", same)
	if err := nodes["c"].Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	snapIndex := nodes["c"].LastIndex()
	apply(60) // in c's log after its snapshot
	testutil.WaitFor(t, 10*time.Second, "c to catch up after its snapshot", same)
	term, _ := storeC.GetUint64([]byte("CurrentTerm"))
	stopC()

	// Bitrot in an entry after c's snapshot.
	walDir := filepath.Join(dirC, "wal")
	damaged := snapIndex + 20
	info, file := segmentOf(t, walDir, damaged)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &segScrub{data: data, info: info, offsets: map[uint64]int64{}}
	s.walk()
	flipAt(t, file, s.offsets[damaged]+40, 0x08)
	if _, err := openLogStore(dirC, testSegment, discard); !errors.Is(err, ErrLogDamaged) {
		t.Fatalf("open c's damaged log: %v, want ErrLogDamaged", err)
	} else {
		t.Logf("c refuses its log (snapshot at %d): %v", snapIndex, err)
	}
	rep, err := RepairLog(dirC, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repair: %+v", rep)
	if _, err := os.Stat(filepath.Join(rep.Aside, segmentFile(info))); err != nil {
		t.Fatalf("the damaged log is not kept aside: %v", err)
	}

	apply(30) // while c is down; then a compacts past c's log
	if err := leader.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	apply(10)
	trans["c"].Close()
	_, trans["c"] = raft.NewInmemTransport("c")
	connect()
	startC()
	if got, _ := storeC.GetUint64([]byte("CurrentTerm")); got < term {
		t.Fatalf("c's term %d after the repair, was %d", got, term)
	}
	start := time.Now()
	testutil.WaitFor(t, 20*time.Second, "c to get the leader's state back", func() bool {
		return same() && nodes["c"].AppliedIndex() == leader.AppliedIndex()
	})
	first, _ := storeC.FirstIndex()
	t.Logf("c caught up to %d in %v, its log now %d-%d, %d ops applied",
		nodes["c"].AppliedIndex(), time.Since(start).Round(time.Millisecond), first, nodes["c"].LastIndex(), len(fsms["c"].state()))
	apply(5)
	testutil.WaitFor(t, 10*time.Second, "c to follow after catching up", same)
}

func segmentFile(info types.SegmentInfo) string {
	return fmt.Sprintf("%020d-%016x.wal", info.BaseIndex, info.ID)
}
