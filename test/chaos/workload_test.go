package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"concord/internal/check"
)

// The workload's channels: sender s of a member sends to channels[s%2].
var channels = []string{"general", "chaos"}

// sendTimeout is each send's --timeout: short, so a send through a member
// without quorum ends as "queued" and the sender moves on.
const sendTimeout = 3 * time.Second

// record is one send attempt with its outcome and timing.
type record struct {
	Key     string        `json:"key"` // the message text: unique per attempt
	Author  string        `json:"author"`
	Member  string        `json:"member"`
	Channel string        `json:"channel"`
	ID      string        `json:"id,omitempty"` // the ID the CLI printed, if any
	Outcome check.Outcome `json:"outcome"`
	Reason  string        `json:"reason,omitempty"`
	Start   time.Time     `json:"start"`
	End     time.Time     `json:"end"`
}

// workload runs concurrent senders through every member's CLI until stop.
type workload struct {
	tm      *team
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	records []record
}

// startWorkload starts `per` senders on each of members. Each sender sends
// one message after another, each with a unique text, and records the
// outcome.
func startWorkload(tm *team, members []*member, per int, tag string) *workload {
	ctx, cancel := context.WithCancel(tm.ctx)
	w := &workload{tm: tm, cancel: cancel}
	for _, m := range members {
		for s := range per {
			w.wg.Go(func() { w.sender(ctx, m, s, tag) })
		}
	}
	return w
}

func (w *workload) sender(ctx context.Context, m *member, s int, tag string) {
	author := fmt.Sprintf("%s/s%d", m.name, s)
	channel := channels[s%len(channels)]
	for k := 0; ctx.Err() == nil; k++ {
		r := record{Key: fmt.Sprintf("%s %s #%d", tag, author, k), Author: author, Member: m.name,
			Channel: channel, Start: time.Now()}
		// Not tied to ctx: stopping the workload lets a send finish, so
		// its outcome is known rather than cut short.
		out, err := runCLI(context.WithoutCancel(ctx), sendTimeout+cliTimeout, "send", "--data", m.dir,
			"--channel", channel, "--timeout", sendTimeout.String(), r.Key)
		r.End = time.Now()
		r.Outcome, r.ID, r.Reason = classify(out, err)
		w.mu.Lock()
		w.records = append(w.records, r)
		w.mu.Unlock()
		if errors.As(err, new(*cliError)) && strings.Contains(r.Reason, "start it with") {
			// The member is down: pace the retries instead of spinning.
			t := time.NewTimer(200 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// classify turns a `concord send` result into an outcome: exit 0 with an
// ID is ok; "queued" is a promise; an invalid request, or a send refused on
// a full disk, is refused for good;
// anything else (a dead member, a broken socket, a timeout) is unknown.
func classify(out string, err error) (check.Outcome, string, string) {
	if err == nil {
		if out == "" || strings.ContainsAny(out, " \n") {
			return check.Unknown, "", fmt.Sprintf("exit 0 but stdout is not one message ID: %q", out)
		}
		return check.Acked, out, ""
	}
	reason := err.Error()
	var ce *cliError
	if errors.As(err, &ce) {
		reason, _, _ = strings.Cut(strings.TrimSpace(ce.stderr), "\n")
	}
	switch {
	case strings.Contains(reason, "is queued"):
		return check.Queued, "", reason
	case strings.Contains(reason, "invalid request"),
		// Refused before anything was written: it must never land.
		strings.Contains(reason, "your disk is full"):
		return check.Failed, "", reason
	}
	return check.Unknown, "", reason
}

// stop ends the workload and waits for every sender.
func (w *workload) stop() []record {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]record(nil), w.records...)
}

// during returns the attempts made through member m that started at or
// after from and ended by to.
func (w *workload) during(m *member, from, to time.Time) []record {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []record
	for _, r := range w.records {
		if r.Member == m.name && !r.Start.Before(from) && !r.End.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// acked counts the acknowledged sends so far.
func (w *workload) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.records {
		if r.Outcome == check.Acked {
			n++
		}
	}
	return n
}

// sendLatencies returns the commit latency of acknowledged sends that
// started in [from, to), sorted.
func sendLatencies(records []record, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range records {
		if r.Outcome == check.Acked && !r.Start.Before(from) && r.Start.Before(to) {
			out = append(out, r.End.Sub(r.Start))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// unavailability is, for each time the leader was lost, how long until the
// first acknowledged send that started after it ended.
func unavailability(records []record, losses []time.Time) []time.Duration {
	var out []time.Duration
	for _, at := range losses {
		var first time.Time
		for _, r := range records {
			if r.Outcome == check.Acked && !r.Start.Before(at) && (first.IsZero() || r.End.Before(first)) {
				first = r.End
			}
		}
		if !first.IsZero() {
			out = append(out, first.Sub(at))
		}
	}
	return out
}

// quantile returns the q-quantile of sorted durations (0 for none).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
