package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The release before this one, built from its tag so that tests run the
// real previous binary beside this tree's. The commit is the fallback for
// a clone without tags.
const (
	previousTag    = "v0.2.0"
	previousCommit = "5663572096035c0389ff1fb0c807616dd5af0b0a"
)

var (
	prevOnce sync.Once
	prevBin  string
	prevErr  error
)

// buildPrevious builds the previous release (headless) once, in a git
// worktree, and caches the binary under the user's cache dir by commit.
func buildPrevious(t *testing.T) string {
	t.Helper()
	prevOnce.Do(func() { prevBin, prevErr = buildRelease(previousTag, previousCommit) })
	if prevErr != nil {
		t.Fatalf("build the previous release %s: %v", previousTag, prevErr)
	}
	return prevBin
}

func buildRelease(tag, fallback string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	commit := fallback
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "--quiet", tag+"^{commit}").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "concord-test", commit)
	bin := filepath.Join(dir, "concord")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src, err := os.MkdirTemp("", "concord-release-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	wt := filepath.Join(src, "tree")
	if out, err := exec.CommandContext(ctx, "git", "worktree", "add", "--detach", wt, commit).CombinedOutput(); err != nil {
		return "", fmt.Errorf("git worktree add %s: %v\n%s", commit, err, out)
	}
	defer exec.Command("git", "worktree", "remove", "--force", wt).Run() //nolint:errcheck // best effort
	tmp := bin + ".tmp"
	build := exec.CommandContext(ctx, "go", "build", "-tags", "headless", "-o", tmp, ".")
	build.Dir, build.Env = wt, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build at %s: %v\n%s", commit, err, out)
	}
	return bin, os.Rename(tmp, bin)
}
