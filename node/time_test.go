package node

import (
	"context"
	"math"
	"testing"
	"time"

	"concord/internal/testutil"
	"concord/storage"
	"concord/timesync"
)

// With no NTP server reachable, a member whose clock is wrong measures its
// offset to the leader over the LAN, stamps its messages with the corrected
// time, and changes neither the order nor the commit times.
func TestPeerTimeCorrectsASkewedMember(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster")
	}
	for _, skew := range []time.Duration{5 * time.Second, -10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			c := newTestCluster(t, 3)
			l := c.leader()
			m := (l + 1) % 3
			if err := c.nodes[m].Close(); err != nil {
				t.Fatal(err)
			}
			c.nodes[m] = startNodeWith(t, c.dirs[m], timesync.Skewed{Base: timesync.System{}, Skew: skew}, testTiming)
			n := c.nodes[m]
			testutil.WaitFor(t, 20*time.Second, "the skewed member to use peer time", func() bool {
				return n.Time().Source == "peer"
			})
			tm := n.Time()
			offMS := float64(tm.Offset.Microseconds()) / 1000
			errMS := offMS + float64(skew.Milliseconds())
			t.Logf("skew %v: measured offset %.3f ms (error %.3f ms, rtt %v) against %s", skew, offMS, errMS, tm.RTT, tm.Server)
			if math.Abs(errMS) > 5 {
				t.Fatalf("offset %.3f ms does not compensate a skew of %v within 5 ms", offMS, skew)
			}
			if d := n.clock.Now().Sub(time.Now()); d.Abs() > 5*time.Millisecond {
				t.Fatalf("corrected clock is %v off", d)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			before := time.Now()
			if _, err := n.Send(ctx, "general", "from the skewed member"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.nodes[l].Send(ctx, "general", "from the leader"); err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			c.waitConverged()
			msgs, err := n.store.History("general", storage.Query{})
			if err != nil {
				t.Fatal(err)
			}
			for i, msg := range msgs {
				if i > 0 && !msg.CommittedAt.After(msgs[i-1].CommittedAt) {
					t.Fatalf("commit times not increasing at seq %d", msg.Seq)
				}
			}
			last2 := msgs[len(msgs)-2:]
			for _, msg := range last2 {
				for what, ts := range map[string]time.Time{"sent_at": msg.SentAt, "committed_at": msg.CommittedAt} {
					if ts.Before(before.Add(-50*time.Millisecond)) || ts.After(after.Add(50*time.Millisecond)) {
						t.Fatalf("%s of %q is %v, outside the real send window [%v, %v]", what, msg.Text, ts, before, after)
					}
				}
			}
		})
	}
}
