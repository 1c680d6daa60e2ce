package consensus

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"concord/internal/smallfs"
	"concord/internal/testutil"
)

// countFSM counts the entries it applied.
type countFSM struct {
	mu sync.Mutex
	n  int
}

func (f *countFSM) Apply(*raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return nil
}

func (f *countFSM) applied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (f *countFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (nopSnapshot) Release()                             {}

// A follower whose disk fills stops storing entries and falls behind; once
// space returns it catches up with the leader without a restart, its log
// identical to the leader's.
func TestFollowerCatchesUpAfterFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-member Raft cluster")
	}
	dir := smallfs.Mount(t, 256<<10)
	discard := slog.New(slog.DiscardHandler)
	follower, err := openLogStore(dir, testSegment, discard)
	if err != nil {
		t.Fatal(err)
	}
	ids := []raft.ServerID{"a", "b", "c"}
	var conf raft.Configuration
	trans := map[raft.ServerID]*raft.InmemTransport{}
	for _, id := range ids {
		_, trans[id] = raft.NewInmemTransport(raft.ServerAddress(id))
		conf.Servers = append(conf.Servers, raft.Server{ID: id, Address: raft.ServerAddress(id)})
	}
	for _, a := range ids {
		for _, b := range ids {
			if a != b {
				trans[a].Connect(raft.ServerAddress(b), trans[b])
			}
		}
	}
	nodes := map[raft.ServerID]*raft.Raft{}
	stores := map[raft.ServerID]raft.LogStore{}
	fsms := map[raft.ServerID]*countFSM{}
	for _, id := range ids {
		rc := raft.DefaultConfig()
		rc.LocalID = id
		rc.Logger = newHclog(discard, "raft")
		rc.HeartbeatTimeout, rc.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
		rc.LeaderLeaseTimeout, rc.CommitTimeout = 50*time.Millisecond, 5*time.Millisecond
		var logs raft.LogStore
		var stable raft.StableStore
		if id == "c" {
			cached, err := raft.NewLogCache(logCacheSize, follower)
			if err != nil {
				t.Fatal(err)
			}
			logs, stable = cached, follower
		} else {
			mem := raft.NewInmemStore()
			logs, stable = mem, mem
		}
		if id == "a" { // only a can campaign: it leads
			if err := raft.BootstrapCluster(rc, logs, stable, raft.NewInmemSnapshotStore(), trans[id], conf); err != nil {
				t.Fatal(err)
			}
		}
		fsms[id] = &countFSM{}
		r, err := raft.NewRaft(rc, fsms[id], logs, stable, raft.NewInmemSnapshotStore(), trans[id])
		if err != nil {
			t.Fatal(err)
		}
		nodes[id], stores[id] = r, logs
		t.Cleanup(func() { _ = r.Shutdown().Error() })
	}
	t.Cleanup(func() { follower.Close() }) // after Raft's shutdown: cleanups run last first
	leader := nodes["a"]
	testutil.WaitFor(t, 10*time.Second, "a to lead", func() bool { return leader.State() == raft.Leader })
	next := 0
	apply := func(n int) {
		t.Helper()
		for range n {
			next++
			if err := leader.Apply(fmt.Appendf(nil, "entry %d %0200d", next, 0), 5*time.Second).Error(); err != nil {
				t.Fatalf("apply %d: %v", next, err)
			}
		}
	}
	index := func(id raft.ServerID) uint64 {
		i, _ := stores[id].LastIndex()
		return i
	}
	caughtUp := func() bool { return index("c") == index("a") }

	apply(30)
	testutil.WaitFor(t, 10*time.Second, "c to catch up before its disk fills", caughtUp)
	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler, 0)
	deadline := time.Now().Add(30 * time.Second)
	for follower.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("c's log never failed on a full disk")
		}
		apply(5)
	}
	t.Logf("c's log failed at %d: %v", index("c")+1, follower.Err())
	apply(20) // a and b commit without c
	if index("c") >= index("a") {
		t.Fatalf("c at %d is not behind a at %d with a full disk", index("c"), index("a"))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	testutil.WaitFor(t, 30*time.Second, "c to catch up after space returned", caughtUp)
	t.Logf("c caught up to %d %v after space returned", index("c"), time.Since(freed).Round(time.Millisecond))
	if err := follower.Err(); err != nil {
		t.Fatalf("c's log still reports %v after catching up", err)
	}
	apply(10)
	testutil.WaitFor(t, 10*time.Second, "c to apply every entry", func() bool {
		return caughtUp() && fsms["c"].applied() == fsms["a"].applied()
	})
	first, _ := stores["c"].FirstIndex()
	for i := first; i <= index("a"); i++ {
		var want, got raft.Log
		if err := stores["a"].GetLog(i, &want); err != nil {
			t.Fatalf("a's entry %d: %v", i, err)
		}
		if err := follower.GetLog(i, &got); err != nil {
			t.Fatalf("c's entry %d: %v", i, err)
		}
		if got.Term != want.Term || got.Type != want.Type || string(got.Data) != string(want.Data) {
			t.Fatalf("c's entry %d differs from a's", i)
		}
	}
}
