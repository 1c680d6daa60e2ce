package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"concord/internal/releases"
)

var (
	prevOnce sync.Once
	prevBin  string
	prevErr  error
)

// buildPrevious builds the previous release (headless) once, from its tag
// (internal/releases), and returns the binary's path.
func buildPrevious(t *testing.T) string {
	t.Helper()
	prevOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		prevBin, prevErr = releases.Build(ctx, releases.Previous, "headless")
	})
	if errors.Is(prevErr, releases.ErrNoHistory) {
		t.Skipf("the previous release cannot be built here: %v", prevErr)
	}
	if prevErr != nil {
		t.Fatalf("build the previous release %s: %v", releases.Previous.Tag, prevErr)
	}
	return prevBin
}
