package node

import "concord/internal/check"

// attempt is one send a test made, with what the sender was told.
type attempt = check.Sent

// checkHistories compares every member's history of one channel (IDs in
// channel order) against the attempts, in send order.
func checkHistories(a []attempt, h map[string][]string) check.Report { return check.CheckSent(a, h) }
