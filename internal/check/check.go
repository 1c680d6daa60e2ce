// Package check is the history checker shared by the in-process and process
// tests (package main) and the container chaos suite (test/chaos): given
// every send attempt with what its sender was told, and every member's
// history of one channel, it reports what the guarantees in
// docs/reliability.md forbid.
package check

import (
	"fmt"
	"slices"
	"strings"
)

// Outcome is what a sender was told about one attempt.
type Outcome int

const (
	// Unknown: the sender learned nothing (a timeout, a killed member, a
	// broken socket). The message may or may not have landed, at most once.
	Unknown Outcome = iota
	// Acked: the send succeeded; the message must be everywhere, once.
	Acked
	// Queued: the send was durably queued but not committed in time; it is
	// a promise too and must land exactly once.
	Queued
	// Failed: the team refused it for good; it must land nowhere.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Acked:
		return "ok"
	case Queued:
		return "queued"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Attempt is one send, in the order its author made them. ID is whatever
// key the histories carry for it (a message ID, or a unique text).
type Attempt struct {
	ID      string
	Author  string // per-author order is checked per author
	Outcome Outcome
}

// promised reports whether the attempt must land exactly once.
func (a Attempt) promised() bool { return a.Outcome == Acked || a.Outcome == Queued }

// Report is what Check finds. A clean run has OK() true and Unexpected 0.
type Report struct {
	Attempted, Acked, Queued, Failed, Unknown int
	Lost                                      int // promised IDs missing on at least one member
	LostOnMember                              int // (member, promised ID) pairs missing
	Duplicated                                int // IDs present more than once on some member
	Unexpected                                int // IDs on some member that no attempt made (not counted when an attempt has no ID)
	Divergences                               int // members whose order differs from the first member's
	Reordered                                 int // promised messages of one author out of send order
	FailedLanded                              int // attempts told "failed" that landed anyway
	UnknownLanded, UnknownMissing             int // unknown attempts present on every member / on none
	UnknownPartial                            int // unknown attempts present on some members only (a loss too)
	Details                                   []string
}

// OK reports whether the histories keep every guarantee the attempts can
// show: nothing promised lost, nothing twice, one order everywhere, each
// author's order kept, nothing refused landed, no member missing a message
// another has.
func (r Report) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Divergences == 0 && r.Reordered == 0 &&
		r.FailedLanded == 0 && r.UnknownPartial == 0
}

func (r Report) String() string {
	s := fmt.Sprintf("attempted %d (ok %d, queued %d, failed %d, unknown %d: %d landed, %d did not), "+
		"lost %d (%d on members), duplicated %d, unexpected %d, divergences %d, reordered %d, failed-but-landed %d, unknown-on-some %d",
		r.Attempted, r.Acked, r.Queued, r.Failed, r.Unknown, r.UnknownLanded, r.UnknownMissing,
		r.Lost, r.LostOnMember, r.Duplicated, r.Unexpected, r.Divergences, r.Reordered, r.FailedLanded, r.UnknownPartial)
	if len(r.Details) > 0 {
		n := min(len(r.Details), 10)
		s += "\n  " + strings.Join(r.Details[:n], "\n  ")
		if n < len(r.Details) {
			s += fmt.Sprintf("\n  ... %d more", len(r.Details)-n)
		}
	}
	return s
}

// Check compares every member's history of one channel (IDs in channel
// order; member name → IDs) against the attempts, given in each author's
// send order.
func Check(attempts []Attempt, histories map[string][]string) Report {
	r := Report{Attempted: len(attempts)}
	members := make([]string, 0, len(histories))
	for name := range histories {
		members = append(members, name)
	}
	slices.Sort(members)
	known := map[string]bool{}
	anonymous := false
	for _, a := range attempts {
		switch a.Outcome {
		case Acked:
			r.Acked++
		case Queued:
			r.Queued++
		case Failed:
			r.Failed++
		default:
			r.Unknown++
		}
		if a.ID == "" {
			anonymous = true
		}
		known[a.ID] = true
	}
	lost := map[string]bool{}
	presentOn := map[string]int{} // ID → members holding it
	unexpected := map[string]bool{}
	for _, name := range members {
		h := histories[name]
		pos := map[string]int{}
		for i, id := range h {
			if _, dup := pos[id]; dup {
				r.Duplicated++
				r.Details = append(r.Details, fmt.Sprintf("%s: %s twice", name, id))
			} else {
				presentOn[id]++
			}
			pos[id] = i
			if !known[id] && !anonymous && !unexpected[id] {
				unexpected[id] = true
				r.Details = append(r.Details, fmt.Sprintf("%s: %s was never sent", name, id))
			}
		}
		lastByAuthor := map[string]int{}
		for _, a := range attempts {
			if !a.promised() {
				continue
			}
			p, ok := pos[a.ID]
			if !ok {
				r.LostOnMember++
				lost[a.ID] = true
				r.Details = append(r.Details, fmt.Sprintf("%s: %s %s missing", name, a.Outcome, a.ID))
				continue
			}
			if last, seen := lastByAuthor[a.Author]; seen && p < last {
				r.Reordered++
				r.Details = append(r.Details, fmt.Sprintf("%s: %s of %s before an earlier message", name, a.ID, a.Author))
			}
			lastByAuthor[a.Author] = p
		}
		if name != members[0] && !slices.Equal(h, histories[members[0]]) {
			r.Divergences++
			r.Details = append(r.Details, fmt.Sprintf("%s: order differs from %s", name, members[0]))
		}
	}
	r.Lost = len(lost)
	r.Unexpected = len(unexpected)
	for _, a := range attempts {
		n := presentOn[a.ID]
		switch {
		case a.Outcome == Failed && n > 0:
			r.FailedLanded++
			r.Details = append(r.Details, fmt.Sprintf("%s was refused but landed on %d members", a.ID, n))
		case a.Outcome == Unknown && a.ID != "" && n == len(members):
			r.UnknownLanded++
		case a.Outcome == Unknown && a.ID != "" && n == 0:
			r.UnknownMissing++
		case a.Outcome == Unknown && a.ID != "":
			r.UnknownPartial++
			r.Details = append(r.Details, fmt.Sprintf("unknown %s landed on %d of %d members", a.ID, n, len(members)))
		}
	}
	return r
}

// Sent is a send as a test records it: its ID, who sent it (per-author
// order is checked per author) and whether the sender was told it
// succeeded or was queued (then it must be on every member, once).
type Sent struct {
	ID, Author string
	Acked      bool
}

// CheckSent is Check over sends recorded as Sent, in send order; a send
// that was not acknowledged has an unknown outcome: it may land, once,
// everywhere.
func CheckSent(sent []Sent, histories map[string][]string) Report {
	as := make([]Attempt, len(sent))
	for i, s := range sent {
		as[i] = Attempt{ID: s.ID, Author: s.Author, Outcome: Unknown}
		if s.Acked {
			as[i].Outcome = Acked
		}
	}
	return Check(as, histories)
}
