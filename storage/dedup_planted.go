//go:build concord_nodedup

package storage

// dedup is off in this build: a planted bug for the checker's own test
// (make test runs it with -tags concord_nodedup). Never ship this build.
const dedup = false
