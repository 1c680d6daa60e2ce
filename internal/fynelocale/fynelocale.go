// Package fynelocale keeps Fyne from logging "Fyne error: Error parsing user
// locale C" (three lines on stderr) when any binary that links its widgets
// starts under the C or POSIX locale, as CI and `make` do (LANG=C.UTF-8):
// Fyne's lang package looks the locale up in its init and cannot parse "C".
//
// Import it for its side effect. It must run before Fyne's init, and does:
// Go initializes, at each step, the lexically first package whose imports
// are ready; this one needs only os and "concord/..." sorts before
// "fyne.io/...", so it always runs first.
package fynelocale

import (
	"os"
	"strings"
)

func init() {
	// The first set variable wins, as in gettext and Fyne's locale lookup.
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		base, _, _ := strings.Cut(v, ".")
		if base != "C" && base != "POSIX" {
			return
		}
		if v == base {
			// Plain C/POSIX: the lookup ignores LANGUAGE; say English for
			// this process only (Go itself does not use the locale).
			_ = os.Setenv(k, "en_US.UTF-8")
		} else if os.Getenv("LANGUAGE") == "" {
			// C.UTF-8: the lookup asks LANGUAGE first.
			_ = os.Setenv("LANGUAGE", "en")
		}
		return
	}
}
