// Package version says which Concord this is: the release (for people) and
// the replicated protocol it speaks (for members deciding what they may
// write to the team's log).
//
// The release is bumped in a release commit together with FyneApp.toml's
// Version (a test checks they agree) and tagged vMAJOR.MINOR.PATCH.
//
// The replicated protocol is a number: the set of op kinds and their apply
// rules, the log's command encoding, the snapshot format and the state.db
// schema. A member supports the range [MinProtocol, Protocol]; the team
// version, committed in the log, is the highest protocol every member may
// be assumed to read, and no member writes anything the team version does
// not allow (docs/protocol.md, "Versions").
package version

import (
	"fmt"
	"strconv"
	"strings"
)

// Release is this build's release.
const Release = "0.4.0"

// Protocol is the newest replicated protocol this release speaks;
// MinProtocol the oldest team version it can still work in.
const (
	Protocol    = 4
	MinProtocol = 1
)

// releases names, for each protocol, the first release that speaks it: what
// a member that meets a newer protocol is told to install.
var releases = map[int]string{1: "0.1.0", 2: "0.2.0", 3: "0.3.0", 4: "0.4.0"}

// ReleaseFor is the first release that speaks protocol p ("" if unknown to
// this build: p is newer than Protocol).
func ReleaseFor(p int) string { return releases[p] }

// Compare compares two releases "MAJOR.MINOR.PATCH" (a leading "v" and a
// "-suffix" are ignored; a missing part counts as 0): -1, 0 or +1.
func Compare(a, b string) int {
	pa, pb := parts(a), parts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func parts(r string) [3]int {
	r = strings.TrimPrefix(r, "v")
	if i := strings.IndexAny(r, "-+"); i >= 0 {
		r = r[:i]
	}
	var out [3]int
	for i, s := range strings.SplitN(r, ".", 3) {
		out[i], _ = strconv.Atoi(s)
	}
	return out
}

// NeedsUpgrade is the sentence a member shows when its team needs release
// need and it runs this one.
func NeedsUpgrade(need string) string {
	if need == "" {
		return fmt.Sprintf("this team now needs a newer Concord; you have %s", Release)
	}
	return fmt.Sprintf("this team now needs Concord %s or later; you have %s", need, Release)
}
