//go:build !concord_nodedup

package storage

// dedup is always on: the FSM drops a message ID it has already applied,
// which is what makes retries exactly-once. The concord_nodedup build tag
// turns it off only to show that the delivery checker catches the bug.
const dedup = true
