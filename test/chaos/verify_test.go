package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"concord/internal/check"
)

// row is one line of `concord history --json`.
type row struct {
	ID          string    `json:"id"`
	Seq         uint64    `json:"seq"`
	Text        string    `json:"text"`
	CommittedAt time.Time `json:"committed_at"`
}

// snapshot is every member's history of every channel (channel → member →
// rows), read once the team has drained.
type snapshot map[string]map[string][]row

// waitDrained waits until every member answers with an empty outbox and the
// same applied index, then reads every channel on every member; the
// applied index is read again after, so no commit landed in between.
func (tm *team) waitDrained() snapshot {
	tm.t.Helper()
	var snap snapshot
	applied := func() (uint64, string) {
		var idx uint64
		for i, m := range tm.members {
			st, err := tm.status(m)
			if err != nil {
				return 0, err.Error()
			}
			if st.Outbox == nil || *st.Outbox != 0 {
				return 0, fmt.Sprintf("%s: outbox %v", m.name, st.Outbox)
			}
			if st.Storage.State != "ok" {
				return 0, fmt.Sprintf("%s: storage %s", m.name, st.Storage.State)
			}
			if i > 0 && st.AppliedIndex != idx {
				return 0, fmt.Sprintf("applied index %d on %s, %d on %s", idx, tm.members[0].name, st.AppliedIndex, m.name)
			}
			idx = st.AppliedIndex
		}
		return idx, ""
	}
	tm.waitFor(2*time.Minute, "every outbox drained and every member at one applied index", func() (bool, string) {
		before, why := applied()
		if why != "" {
			return false, why
		}
		s, err := tm.read()
		if err != nil {
			return false, err.Error()
		}
		if after, why := applied(); why != "" || after != before {
			return false, "a commit landed while reading"
		}
		snap = s
		return true, ""
	})
	return snap
}

// read reads every channel the first member lists, on every member.
func (tm *team) read() (snapshot, error) {
	out, err := tm.cli(tm.members[0], "channels", "--json")
	if err != nil {
		return nil, err
	}
	var chs []struct{ Name string }
	dec := json.NewDecoder(strings.NewReader(out)) // one object per line
	for dec.More() {
		var ch struct{ Name string }
		if err := dec.Decode(&ch); err != nil {
			return nil, fmt.Errorf("channels: %v: %q", err, out)
		}
		chs = append(chs, ch)
	}
	snap := snapshot{}
	for _, ch := range chs {
		snap[ch.Name] = map[string][]row{}
		for _, m := range tm.members {
			out, err := tm.cli(m, "history", "--channel", ch.Name, "--json")
			if err != nil {
				return nil, err
			}
			var rows []row
			dec := json.NewDecoder(strings.NewReader(out))
			for dec.More() {
				var r row
				if err := dec.Decode(&r); err != nil {
					return nil, fmt.Errorf("history of %s #%s: %v", m.name, ch.Name, err)
				}
				rows = append(rows, r)
			}
			snap[ch.Name][m.name] = rows
		}
	}
	return snap, nil
}

// verdict is a run's checked outcome.
type verdict struct {
	check.Report
	CommitTimeRegressions int // committed_at not strictly increasing within a channel
	SeqGaps               int // seq not 1, 2, 3, ... within a channel
	Inconsistent          int // members whose state digest does not agree with their peers'
}

func (v verdict) ok() bool {
	return v.OK() && v.Unexpected == 0 && v.CommitTimeRegressions == 0 && v.SeqGaps == 0 && v.Inconsistent == 0
}

func (v verdict) String() string {
	return fmt.Sprintf("%v; commit-time regressions %d, seq gaps %d, digest disagreements %d",
		v.Report, v.CommitTimeRegressions, v.SeqGaps, v.Inconsistent)
}

// judge checks every channel: the attempts sent to it against every
// member's history (keyed by the unique text), plus per-channel seq and
// commit-time order. The reports of all channels are summed.
func judge(records []record, snap snapshot) verdict {
	var v verdict
	for ch, members := range snap {
		var attempts []check.Attempt
		for _, r := range records {
			if r.Channel == ch {
				attempts = append(attempts, check.Attempt{ID: r.Key, Author: r.Author, Outcome: r.Outcome})
			}
		}
		hist := map[string][]string{}
		for name, rows := range members {
			keys := make([]string, len(rows))
			for i, r := range rows {
				keys[i] = r.Text
				if r.Seq != uint64(i+1) {
					v.SeqGaps++
				}
				if i > 0 && !r.CommittedAt.After(rows[i-1].CommittedAt) {
					v.CommitTimeRegressions++
				}
			}
			hist[name] = keys
		}
		v.add(ch, check.Check(attempts, hist))
	}
	return v
}

func (v *verdict) add(ch string, r check.Report) {
	v.Attempted += r.Attempted
	v.Acked += r.Acked
	v.Queued += r.Queued
	v.Failed += r.Failed
	v.Unknown += r.Unknown
	v.Lost += r.Lost
	v.LostOnMember += r.LostOnMember
	v.Duplicated += r.Duplicated
	v.Unexpected += r.Unexpected
	v.Divergences += r.Divergences
	v.Reordered += r.Reordered
	v.FailedLanded += r.FailedLanded
	v.UnknownLanded += r.UnknownLanded
	v.UnknownMissing += r.UnknownMissing
	v.UnknownPartial += r.UnknownPartial
	for _, d := range r.Details {
		v.Details = append(v.Details, "#"+ch+" "+d)
	}
}

// artifacts is where a failing run keeps its evidence.
func artifactsDir(name string) string {
	root := os.Getenv("CHAOS_ARTIFACTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "concord-chaos-artifacts")
	}
	return filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(name)+"-"+time.Now().Format("150405"))
}

// keepArtifactsIfFailed saves, for a failed test, the event log, attempts,
// histories and every container's log, and prints where.
func (tm *team) keepArtifactsIfFailed() {
	if !tm.t.Failed() {
		return
	}
	dir := artifactsDir(tm.t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tm.t.Logf("artifacts: %v", err)
		return
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			tm.t.Logf("artifacts: %v", err)
		}
	}
	write("events.txt", []byte(tm.events.String()+"\n"))
	if tm.lastRecords != nil {
		var b strings.Builder
		for _, r := range tm.lastRecords {
			line, _ := json.Marshal(r)
			b.Write(append(line, '\n'))
		}
		write("attempts.jsonl", []byte(b.String()))
	}
	if snap, err := tm.read(); err == nil {
		b, _ := json.MarshalIndent(snap, "", " ")
		write("histories.json", b)
	} else if tm.lastSnapshot != nil {
		b, _ := json.MarshalIndent(tm.lastSnapshot, "", " ")
		write("histories.json", b)
	}
	tm.dumpGoroutines()
	for _, m := range tm.members {
		out, err := dockerLogs(tm.ctx, m.container)
		if err != nil {
			out = err.Error()
		}
		write(m.name+".log", []byte(out))
	}
	tm.t.Logf("artifacts of the failed run kept in %s", dir)
}

// dumpGoroutines has every running member print its goroutines and exit
// (SIGQUIT: Go's runtime writes every goroutine's stack to stderr, which
// lands in the container's log), so that the artifacts of a run where a
// member hung show where. The run has failed and its containers are
// removed next.
func (tm *team) dumpGoroutines() {
	for _, m := range tm.members {
		if _, err := docker(tm.ctx, "kill", "-s", "QUIT", m.container); err != nil {
			continue // not running
		}
		if err := poll(tm.ctx, 10*time.Second, func() (bool, string) {
			out, err := docker(tm.ctx, "inspect", "-f", "{{.State.Running}}", m.container)
			return err == nil && out == "false", out
		}); err != nil {
			tm.t.Logf("artifacts: %s did not exit after SIGQUIT: %v", m.name, err)
		}
	}
}

// checkDigests has every member compare its state digest chain with its
// peers' now (/concord/digest/1.0.0) and returns how many do not report
// "ok": any silent divergence of the applied state, whatever the cause,
// shows here even where the histories read the same. A member still
// "unknown" (a peer not healthy again yet) is asked again for up to 20 s.
func (tm *team) checkDigests() int {
	bad := 0
	for _, m := range tm.members {
		var state string
		err := poll(tm.ctx, 20*time.Second, func() (bool, string) {
			s, err := tm.consistency(m)
			state = s
			if err != nil {
				return false, err.Error()
			}
			return s != "unknown", s
		})
		if err != nil || state != "ok" {
			tm.t.Logf("digest check on %s: %s (%v)", m.name, state, err)
			bad++
		}
	}
	return bad
}

// attackLoad starts senders on members for an attack test. finish stops
// them, waits for the team to drain, judges every history against what was
// sent (and extra), reports a failed check and returns the records; a test
// that ends before finish still stops them.
func (tm *team) attackLoad(members []*member, per int, tag string) (w *workload, finish func(extra ...record) []record) {
	w = startWorkload(tm, members, per, tag)
	stopped := false
	tm.t.Cleanup(func() {
		if !stopped {
			tm.lastRecords = w.stop()
		}
	})
	return w, func(extra ...record) []record {
		records := append(w.stop(), extra...)
		stopped, tm.lastRecords = true, records
		snap := tm.waitDrained()
		tm.lastSnapshot = snap
		v := judge(records, snap)
		tm.t.Logf("events:\n%s", tm.events)
		tm.t.Logf("checker: %v", v)
		if !v.ok() {
			tm.t.Errorf("checker: %v", v)
		}
		return records
	}
}
