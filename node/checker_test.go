package node

import "concord/internal/check"

// attempt is one send a test made, with what the sender was told.
type attempt struct {
	id     string
	author string // who sent it (per-author order is checked per author)
	acked  bool   // the send succeeded (or was queued): the message must be everywhere, once
}

// report is what internal/check finds.
type report = check.Report

// checkHistories compares every member's history of one channel (IDs in channel
// order) against the attempts, in send order. An attempt that was not
// acknowledged has an unknown outcome: it may land, once, everywhere.
func checkHistories(attempts []attempt, histories map[string][]string) report {
	as := make([]check.Attempt, len(attempts))
	for i, a := range attempts {
		as[i] = check.Attempt{ID: a.id, Author: a.author, Outcome: check.Unknown}
		if a.acked {
			as[i].Outcome = check.Acked
		}
	}
	return check.Check(as, histories)
}
