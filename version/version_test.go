package version

import (
	"os"
	"regexp"
	"testing"
)

// TestFyneAppVersionIsTheRelease: the packaged app says the same release
// as the binary.
func TestFyneAppVersionIsTheRelease(t *testing.T) {
	b, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Version = "([^"]+)"`).FindSubmatch(b)
	if m == nil || string(m[1]) != Release {
		t.Fatalf("FyneApp.toml Version %q, Release %q: bump both together", m, Release)
	}
	if ReleaseFor(Protocol) != Release && Compare(ReleaseFor(Protocol), Release) > 0 {
		t.Fatalf("protocol %d is said to start at %s, after this release %s", Protocol, ReleaseFor(Protocol), Release)
	}
	for p := MinProtocol; p <= Protocol; p++ {
		if ReleaseFor(p) == "" {
			t.Errorf("no release named for protocol %d", p)
		}
	}
}

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"0.2.0", "0.2.0", 0}, {"0.2.0", "0.10.0", -1}, {"v1.0.0", "0.9.9", 1}, {"0.3.0-dev", "0.3.0", 0}, {"0.2", "0.2.0", 0}, {"0.2.1", "0.2.0", 1}} {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestNeedsUpgrade(t *testing.T) {
	if got := NeedsUpgrade("0.3.0"); got != "this team now needs Concord 0.3.0 or later; you have "+Release {
		t.Errorf("NeedsUpgrade: %q", got)
	}
}
