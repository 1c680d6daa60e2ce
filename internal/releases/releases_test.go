package releases

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPreviousCommitIsItsTag: the fallback commit is the one the tag names
// (when this clone has the tag).
func TestPreviousCommitIsItsTag(t *testing.T) {
	out, err := exec.Command("git", "rev-parse", "--verify", "--quiet", Previous.Tag+"^{commit}").Output()
	if err != nil {
		t.Skipf("no tag %s in this clone", Previous.Tag)
	}
	if got := strings.TrimSpace(string(out)); got != Previous.Commit {
		t.Fatalf("%s is %s, Previous.Commit says %s", Previous.Tag, got, Previous.Commit)
	}
}
