package node

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/p2p"
)

// TestForgedRemovalNoticeIsIgnored: a member that tells another it was
// removed, when the team did no such thing, is not believed: the other
// members still admit the target, which keeps running and sending.
func TestForgedRemovalNoticeIsIgnored(t *testing.T) {
	c := newTestClusterOf(t, 3, &testCluster{timing: testTiming, removalWatch: 2 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	liar, target := c.nodes[1], c.nodes[2]
	testutil.WaitFor(t, 10*time.Second, "the target to be connected to m0", func() bool { return target.host.IsConnected(c.ids[0]) })

	s, err := liar.host.Host().NewStream(ctx, c.ids[2], p2p.ProtoRemoved)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(removalNotice{Team: liar.conf.TeamID, By: c.ids[0].String(), At: time.Now()})
	if err := p2p.WriteFrame(s, b); err != nil {
		t.Fatal(err)
	}
	if ack, err := p2p.ReadFrame(s, 16); err != nil || string(ack) != "ok" {
		t.Fatalf("notice not taken: %q, %v", ack, err)
	}
	_ = s.Close()
	testutil.WaitFor(t, 5*time.Second, "the notice to be checked", func() bool { return target.confirming.Load() })
	testutil.WaitFor(t, 10*time.Second, "the check to end", func() bool { return !target.confirming.Load() })
	select {
	case <-target.Removed():
		t.Fatal("the target believed a forged removal notice")
	default:
	}
	if _, err := os.Stat(removedPath(c.dirs[2])); err == nil {
		t.Fatal("removed.json written for a forged notice")
	}
	if _, err := target.Send(ctx, "general", "still a member"); err != nil {
		t.Fatalf("the target cannot send after the forged notice: %v", err)
	}
}
