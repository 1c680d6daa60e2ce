// Package releases builds an earlier Concord release from its git tag, so
// that tests run the real previous binary beside this tree's (the upgrade
// tests, the chaos suite's rolling-upgrade scenario). Test helpers only.
package releases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Release names a release: its tag, and its commit for a clone without
// tags.
type Release struct {
	Tag, Commit string
}

// Previous is the release before this one.
var Previous = Release{Tag: "v0.3.0", Commit: "c9c78c9585696293251a7873eda2394323c5cdc5"}

// ErrNoHistory says the clone lacks the release's commit (a shallow clone):
// tests that need the previous release skip rather than fail.
var ErrNoHistory = errors.New("this clone does not have the release's commit (a shallow clone?)")

// Build builds r's headless static binary with the build tags tags (run
// from inside the repository) and returns its path. The binary is cached
// under the user's cache dir by commit and tags: the first build takes a
// git worktree and a minute, the next ones nothing.
func Build(ctx context.Context, r Release, tags string) (string, error) {
	commit := r.Commit
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "--quiet", r.Tag+"^{commit}").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	if err := exec.CommandContext(ctx, "git", "cat-file", "-e", commit+"^{commit}").Run(); err != nil {
		return "", fmt.Errorf("%w: %s (%s)", ErrNoHistory, r.Tag, commit)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "concord-test", commit+"-"+strings.ReplaceAll(tags, ",", "+"))
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
		return "", fmt.Errorf("git worktree add %s (%s): %v\n%s", r.Tag, commit, err, out)
	}
	defer exec.Command("git", "worktree", "remove", "--force", wt).Run() //nolint:errcheck // best effort; prune cleans up
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	build := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", tmp, ".")
	build.Dir, build.Env = wt, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s at %s: %v\n%s", r.Tag, commit, err, out)
	}
	return bin, os.Rename(tmp, bin)
}
