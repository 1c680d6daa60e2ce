package main

import (
	"fmt"
	"strings"
)

// attempt is one send a test made, with what the sender was told.
type attempt struct {
	id     string
	author string // who sent it (per-author order is checked per author)
	acked  bool   // the send succeeded: the message must be everywhere, once
}

// report is what check finds; a clean run has every count but the first
// two at zero.
type report struct {
	attempted, acked int
	lost             int // acknowledged but missing on some member
	duplicated       int // an ID present more than once on some member
	divergences      int // members whose channel order differs from the first
	reordered        int // acknowledged messages of one author out of send order
	details          []string
}

func (r report) ok() bool {
	return r.lost == 0 && r.duplicated == 0 && r.divergences == 0 && r.reordered == 0
}

func (r report) String() string {
	s := fmt.Sprintf("attempted %d, acknowledged %d, lost %d, duplicated %d, divergences %d, reordered %d",
		r.attempted, r.acked, r.lost, r.duplicated, r.divergences, r.reordered)
	if len(r.details) > 0 {
		n := min(len(r.details), 10)
		s += "\n  " + strings.Join(r.details[:n], "\n  ")
	}
	return s
}

// check compares every member's history of one channel (IDs in channel
// order) against the attempts, in send order.
func check(attempts []attempt, histories map[string][]string) report {
	r := report{attempted: len(attempts)}
	var first []string
	var firstName string
	for name, h := range histories {
		if first == nil || name < firstName {
			first, firstName = h, name
		}
	}
	for name, h := range histories {
		pos := map[string]int{}
		for i, id := range h {
			if _, dup := pos[id]; dup {
				r.duplicated++
				r.details = append(r.details, fmt.Sprintf("%s: %s twice", name, id))
			}
			pos[id] = i
		}
		lastByAuthor := map[string]int{}
		for _, a := range attempts {
			if !a.acked {
				continue
			}
			p, ok := pos[a.id]
			if !ok {
				r.lost++
				r.details = append(r.details, fmt.Sprintf("%s: acknowledged %s missing", name, a.id))
				continue
			}
			if last, seen := lastByAuthor[a.author]; seen && p < last {
				r.reordered++
				r.details = append(r.details, fmt.Sprintf("%s: %s of %s before an earlier message", name, a.id, a.author))
			}
			lastByAuthor[a.author] = p
		}
		if strings.Join(h, ",") != strings.Join(first, ",") {
			r.divergences++
			r.details = append(r.details, fmt.Sprintf("%s: order differs from %s", name, firstName))
		}
	}
	for _, a := range attempts {
		if a.acked {
			r.acked++
		}
	}
	return r
}
