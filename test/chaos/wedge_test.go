package chaos

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"concord/internal/check"
	"concord/internal/smallfs"
)

// The wedged-rotation scenario's sizes. The Raft log (raft-wal) preallocates
// each segment file whole when it rotates to it, so a disk with less free
// space than a segment refuses the rotation while appends to the current
// segment, already allocated, still work: the fill leaves less than a
// segment free, and more than what the member writes elsewhere until the
// rotation (state.db, the outbox, and the search index's SQLite WAL, which
// took 384 KiB within a second in one run: so the fill waits until the
// tail segment is nearly full). Segments are made small through the chaos
// build's CONCORD_CHAOS_WAL_SEGMENT (chaos.go), so the load reaches a
// rotation within seconds; members keep the default elsewhere. Less than
// 16 MB free is a full disk to the member: it refuses sends of its own
// before writing anything, as it would with the default 8 MiB segments,
// which can only fail to rotate on a disk that full.
const (
	wedgeSegment = 512 << 10 // bytes per Raft log segment
	wedgeNear    = 16 << 10  // fill once the tail segment has less than this left
	wedgeLeave   = 448 << 10 // bytes left free by the fill
	// wedgeGrace is how long after the wedge the leader may still call the
	// member healthy: its probes run once a second and a refused one counts.
	wedgeGrace = 3 * time.Second
)

// writableAgain is what a member logs when its Raft log takes entries again
// after failing to (logreopen.go).
const writableAgain = "the raft log is writable again"

// wedgeSettle is how long a member must report write_failed before it
// counts as wedged: longer than its Raft log takes to heal itself (it
// tries every second, and at once after a failed rotation).
const wedgeSettle = 1500 * time.Millisecond

var wedgeSetup = setup{smallDisk: 64 << 20, env: []string{fmt.Sprintf("CONCORD_CHAOS_WAL_SEGMENT=%d", wedgeSegment)}}

// nemWedgedRotation fills a member's disk (the leader half the time) just
// before its Raft log must start a new segment, so the rotation fails with
// ENOSPC: raft-wal logs "rotate error" and its sealed tail refuses every
// append. The run fails unless that rotation failure shows in the member's
// log. What follows, as seen in the runs: the log reopens itself within
// milliseconds (logreopen.go) and, since raft-wal recorded the new segment
// in its meta store before it failed to preallocate the file, appends to
// that file unallocated until the disk is really full, when appends fail
// too. Once the member reports storage write_failed, for 4–7 s: it must
// keep reporting it, the leader must not report it healthy (after one
// probe round's grace), and its own sends must end with an honest outcome
// (judgeWedgedSends). Then the space is given back and the member must
// recover in the same process (the nemesis never restarts it, and its
// container must keep its PID): its log says it is writable again, it
// reports storage ok, the leader reports it healthy, and it applies up to
// the leader's commit index.
func nemWedgedRotation(tm *team, rng *rand.Rand) error {
	m, _ := tm.target(rng)
	before, err := tm.inspect(m)
	if err != nil {
		return err
	}
	f, leaderBefore, err := tm.fillBeforeRotation(m)
	if err != nil {
		return err
	}
	tm.events.begin()
	full := true
	release := func() {
		if full {
			full = false
			tm.events.add("free the disk of %s", m.name)
			f.Release()
			tm.events.end()
		}
	}
	defer release()

	// The rotation must fail, and the member must say so, for longer than
	// the log takes to heal itself: a failed rotation the reopen mends at
	// once (the disk not yet really full) is not yet the wedge judged here.
	var st status
	var wedgedAt time.Time
	if err := poll(tm.ctx, 60*time.Second, func() (bool, string) {
		st, err = tm.status(m)
		if err != nil {
			return false, err.Error()
		}
		if st.Storage.State != "write_failed" {
			wedgedAt = time.Time{}
			return false, fmt.Sprintf("storage %s, disk %s", st.Storage.State, st.Disk.State)
		}
		if wedgedAt.IsZero() {
			wedgedAt = time.Now()
		}
		return time.Since(wedgedAt) >= wedgeSettle, fmt.Sprintf("storage write_failed for %v", time.Since(wedgedAt))
	}); err != nil {
		return fmt.Errorf("%s's Raft log never failed to write on a full disk: %w", m.name, err)
	}
	logs, err := dockerLogs(tm.ctx, m.container)
	if err != nil {
		return err
	}
	writable := strings.Count(logs, writableAgain)
	rotation := rotateFailure(logs)
	if rotation == "" {
		return fmt.Errorf("%s reports storage write_failed (%s) but its log has no failed rotation: "+
			"the fault this scenario is about was not injected", m.name, st.Storage.Reason)
	}
	tm.events.add("%s wedged: storage %s (%s), disk %s; its log: %s", m.name, st.Storage.State,
		st.Storage.Reason, st.Disk.State, rotation)
	if leaderBefore == m {
		tm.events.lostLeader(wedgedAt)
	}

	// Held: the member keeps saying it cannot write, and the leader never
	// reports it healthy once a probe round has passed.
	hold := between(rng, 4*time.Second, 7*time.Second)
	var samples, unhealthy, noLeader, maxOutbox int
	retired := false
	for time.Since(wedgedAt) < hold {
		at := time.Now()
		l := tm.leaderSeenBy(m)
		if l == nil || l == m {
			noLeader++
		} else if lst, err := tm.status(l); err == nil {
			healthy, known := peerHealthy(lst, m.id)
			switch {
			case !known:
				return fmt.Errorf("the leader %s does not list %s among its peers", l.name, m.name)
			case healthy && at.Sub(wedgedAt) > wedgeGrace:
				return fmt.Errorf("the leader %s reports %s healthy %v after its Raft log stopped taking entries",
					l.name, m.name, at.Sub(wedgedAt).Round(time.Millisecond))
			case !healthy:
				unhealthy++
			}
			samples++
			if !retired && !slices.Contains(lst.Voters, m.id) && !slices.Contains(lst.Nonvoters, m.id) {
				retired = true
				tm.events.add("the leader %s retired %s from the Raft configuration", l.name, m.name)
			}
		}
		st, err := tm.status(m)
		if err != nil {
			return err
		}
		if st.Storage.State != "write_failed" {
			return fmt.Errorf("%s's storage is %s again while its disk is still full", m.name, st.Storage.State)
		}
		if st.Outbox != nil {
			maxOutbox = max(maxOutbox, *st.Outbox)
		}
	}
	if unhealthy == 0 {
		return fmt.Errorf("no leader's view of %s was read while it was wedged (%d samples, %d without a leader)",
			m.name, samples, noLeader)
	}
	tm.events.add("held %v: the leader reported %s unhealthy in %d of %d readings (no other leader known in %d); %s's outbox up to %d",
		time.Since(wedgedAt).Round(time.Millisecond), m.name, unhealthy, samples, noLeader, m.name, maxOutbox)
	freedAt := time.Now()
	release()
	if err := tm.judgeWedgedSends(m, wedgedAt, freedAt); err != nil {
		return err
	}

	// Back in the same process: writable, healthy to the leader, caught up.
	var target uint64
	if err := poll(tm.ctx, 60*time.Second, func() (bool, string) {
		st, err := tm.status(m)
		if err != nil {
			return false, err.Error()
		}
		if st.Storage.State != "ok" {
			return false, fmt.Sprintf("storage %s (%s)", st.Storage.State, st.Storage.Reason)
		}
		l := tm.leaderSeenBy(m)
		if l == nil || l == m {
			return false, "no leader other than " + m.name
		}
		lst, err := tm.status(l)
		if err != nil {
			return false, err.Error()
		}
		if healthy, _ := peerHealthy(lst, m.id); !healthy {
			return false, fmt.Sprintf("the leader %s does not report %s healthy yet", l.name, m.name)
		}
		if target == 0 {
			target = lst.CommitIndex
		}
		return st.AppliedIndex >= target, fmt.Sprintf("%s applied %d, the leader had committed %d", m.name, st.AppliedIndex, target)
	}); err != nil {
		return fmt.Errorf("%s did not recover once its disk had room: %w", m.name, err)
	}
	after, err := tm.inspect(m)
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("%s's process was restarted (%s, then %s): it must recover in place", m.name, before, after)
	}
	logs, err = dockerLogs(tm.ctx, m.container)
	if err != nil {
		return err
	}
	if strings.Count(logs, writableAgain) <= writable {
		return fmt.Errorf("%s reports storage ok but has not logged %q since it was wedged", m.name, writableAgain)
	}
	tm.events.add("%s recovered in place %v after its disk was freed: storage ok, healthy to the leader, applied up to index %d",
		m.name, time.Since(freedAt).Round(time.Millisecond), target)
	return nil
}

// fillBeforeRotation waits until m's tail segment is nearly full and fills
// m's disk to wedgeLeave bytes free; when the log rotated while the disk
// was being filled (the new segment got its space), it gives the space
// back and waits for the next segment's end, three times at most. It
// returns the filler and the leader just before the fill.
func (tm *team) fillBeforeRotation(m *member) (*smallfs.Filler, *member, error) {
	wal := filepath.Join(m.dir, "raft", "wal")
	for attempt := 1; ; attempt++ {
		var seg string
		var room int64
		if err := poll(tm.ctx, 90*time.Second, func() (bool, string) {
			var err error
			if seg, room, err = tailSegment(wal); err != nil {
				return false, err.Error()
			}
			return room < wedgeNear, fmt.Sprintf("%s takes %d more bytes", seg, room)
		}); err != nil {
			return nil, nil, fmt.Errorf("%s's Raft log did not come near the end of its segment: %w", m.name, err)
		}
		leader := tm.leaderSeenBy(m)
		tm.events.add("%s's Raft log segment %s takes %d more bytes before it rotates: fill the disk of %s to %d bytes free",
			m.name, seg, room, m.name, wedgeLeave)
		f := smallfs.Fill(tm.t, m.dir, wedgeLeave)
		now, _, err := tailSegment(wal)
		if err == nil && now == seg {
			return f, leader, nil
		}
		f.Release()
		tm.events.add("%s's Raft log rotated to %s while its disk was being filled: disk freed", m.name, now)
		if attempt == 3 {
			return nil, nil, fmt.Errorf("%s's Raft log rotated during the fill three times (%v)", m.name, err)
		}
	}
}

// judgeWedgedSends checks the outcomes of the sends made through m while
// it was wedged: each must be committed (the team commits without m),
// refused because the disk is full, queued with the reason that m cannot
// store the team's messages, or have failed to be saved in the outbox for
// want of space (the member's disk watcher reads every 5 s, so until it
// sees the disk full a send gets as far as the outbox write); no send may
// end unexplained. The last kind is an unknown outcome to the checker: the
// drainer may already have proposed the message when its outbox write
// failed, so it can land although the sender was told it was not saved.
func (tm *team) judgeWedgedSends(m *member, from, to time.Time) error {
	if tm.load == nil {
		return nil
	}
	rs := tm.load.during(m, from, to)
	if len(rs) == 0 {
		return fmt.Errorf("no send through %s began and ended while it was wedged: nothing to judge", m.name)
	}
	count := map[check.Outcome]int{}
	for _, r := range rs {
		count[r.Outcome]++
		switch {
		case r.Outcome == check.Acked:
		case r.Outcome == check.Failed && strings.Contains(r.Reason, "your disk is full"):
		case r.Outcome == check.Queued && strings.Contains(r.Reason, "can store the team's messages again"):
		case r.Outcome == check.Unknown && strings.Contains(r.Reason, "could not save the message") &&
			strings.Contains(r.Reason, "no space left on device"):
		default:
			return fmt.Errorf("a send through wedged %s ended %s: %q", m.name, r.Outcome, r.Reason)
		}
	}
	tm.events.add("sends through %s while wedged: %d committed, %d refused (disk full), %d queued (cannot store), "+
		"%d not saved (no space left on device)",
		m.name, count[check.Acked], count[check.Failed], count[check.Queued], count[check.Unknown])
	return nil
}

// tailSegment returns the name of the newest raft-wal segment file in dir
// and how many more bytes of entries it takes before raft-wal seals it and
// rotates. A segment is preallocated with zeros and holds frames of 8-byte
// headers (type, then length, or a CRC for a commit) with payloads padded
// to 8 bytes; it is sealed when the entries written plus the index frame
// that sealing adds (4 bytes an entry) would pass its size.
func tailSegment(dir string) (string, int64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return "", 0, err
	}
	if len(names) == 0 {
		return "", 0, fmt.Errorf("no segment in %s", dir)
	}
	// Named base index then ID, both zero-padded: the last sorts last.
	tail := slices.Max(names)
	b, err := os.ReadFile(tail)
	if err != nil {
		return "", 0, err
	}
	off, entries := 32, 0 // after the file header
	for off+8 <= len(b) {
		typ, n := b[off], int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		if typ == 0 || typ > 3 {
			break // the end of what is written (or a frame being written)
		}
		if typ == 3 { // commit: its header field is a CRC
			n = 0
		}
		if typ == 1 {
			entries++
		}
		off += 8 + (n+7)/8*8
	}
	return filepath.Base(tail), int64(len(b) - off - 8 - 4*entries), nil // preallocated: its size is its limit
}

// rotateFailure returns the first line of a member's log where raft-wal
// could not rotate to a new segment for want of space, or "".
func rotateFailure(logs string) string {
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `msg="rotate error"`) && strings.Contains(line, "no space left on device") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// peerHealthy says whether st reports the member id healthy, and whether
// it lists it at all.
func peerHealthy(st status, id string) (healthy, known bool) {
	for _, p := range st.Peers {
		if p.ID == id {
			return p.Healthy, true
		}
	}
	return false, false
}

// inspect returns what changes when a container's process is restarted.
func (tm *team) inspect(m *member) (string, error) {
	return docker(tm.ctx, "inspect", "-f", "pid {{.State.Pid}} started {{.State.StartedAt}} restarts {{.RestartCount}}", m.container)
}
