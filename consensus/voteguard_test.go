package consensus

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestVoteGuardRefusesUntilCaughtUp: after RepairLog the member refuses
// votes and pre-votes, passes everything else to Raft, and votes again
// (its mark removed) once it holds the commit index of the first leader it
// heard from.
func TestVoteGuardRefusesUntilCaughtUp(t *testing.T) {
	mark := filepath.Join(t.TempDir(), noVoteFile)
	if err := os.WriteFile(mark, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var has atomic.Uint64
	has.Store(3)
	g := &voteGuard{out: make(chan raft.RPC), done: make(chan struct{}), log: slog.New(slog.DiscardHandler),
		mark: mark, has: func() (uint64, error) { return has.Load(), nil }}
	in := make(chan raft.RPC)
	g.wg.Add(1)
	go g.run(in)
	defer func() { close(g.done); g.wg.Wait() }()

	// send hands cmd to the guard and returns the guard's own answer, or
	// nil when it passed the RPC on to Raft (which answers nothing here).
	send := func(cmd any) any {
		resp := make(chan raft.RPCResponse, 1)
		in <- raft.RPC{Command: cmd, RespChan: resp}
		select {
		case r := <-resp:
			return r.Response
		case rpc := <-g.out:
			if rpc.Command != cmd {
				t.Fatalf("passed on %T, sent %T", rpc.Command, cmd)
			}
			return nil
		case <-time.After(10 * time.Second):
			t.Fatal("the guard neither answered nor passed the RPC on")
			return nil
		}
	}
	vote := &raft.RequestVoteRequest{Term: 7}
	prevote := &raft.RequestPreVoteRequest{Term: 7}
	refused := func(what string, r any) {
		t.Helper()
		switch v := r.(type) {
		case *raft.RequestVoteResponse:
			if v.Granted || v.Term != 7 {
				t.Errorf("%s: %+v", what, v)
			}
		case *raft.RequestPreVoteResponse:
			if v.Granted || v.Term != 7 {
				t.Errorf("%s: %+v", what, v)
			}
		default:
			t.Errorf("%s: passed on to Raft (%v), want refused", what, r)
		}
	}
	refused("vote before any leader", send(vote))
	refused("pre-vote before any leader", send(prevote))
	if r := send(&raft.AppendEntriesRequest{LeaderCommitIndex: 10}); r != nil {
		t.Fatalf("AppendEntries answered by the guard: %v", r)
	}
	refused("vote while behind the leader's commit", send(vote))
	has.Store(10)
	if r := send(vote); r != nil {
		t.Errorf("vote once caught up: refused (%v), want passed on", r)
	}
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Errorf("the mark is still there once caught up: %v", err)
	}
	has.Store(0) // a later compaction: the guard stays lifted
	if r := send(prevote); r != nil {
		t.Errorf("pre-vote after the guard lifted: refused (%v)", r)
	}
}
