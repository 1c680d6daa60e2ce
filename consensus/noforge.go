//go:build !concord_forge

package consensus

// forge is a no-op outside the test-only forging build (forge.go).
func (r *Replica) forge(int) {}
