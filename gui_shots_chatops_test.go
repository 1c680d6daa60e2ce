//go:build guishots && !headless

package main

// `make screenshots`, message actions: edits, reactions, a reply, a
// mention, a deleted message, the message menu and the mention completion,
// in ann's real window under Xvfb. The team acts through the CLI; the
// window follows (edits arrive through the change feed while it is open).

import (
	"concord/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGUIScreenshotsChatOps(t *testing.T) {
	out := shotsSetup(t)
	// Shots that check a flow but are not in the README.
	checks := filepath.Join(os.TempDir(), "concord-shots")
	if err := os.MkdirAll(checks, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildConcord(t)
	xenv := startXvfb(t)
	home := t.TempDir()
	xenv = append(xenv, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))

	tm := newProcTeam(t, "ann", "bob", "carl")
	ann, bob, carl := tm.procs[0], tm.procs[1], tm.procs[2]
	run := func(p *proc, args ...string) string {
		t.Helper()
		o, err := cli(t, append([]string{args[0], "--data", p.dir}, args[1:]...)...)
		if err != nil {
			t.Fatalf("%s: %v", args[0], err)
		}
		return strings.TrimSpace(o)
	}
	plan := run(bob, "send", "Morning! Standup moves to 10:30 today, the release review right after.")
	notes := run(carl, "send", "@ann could you look at the release notes before the review?")
	sure := run(ann, "send", "Sure, after lunch")
	oops := run(carl, "send", "wrong channel, sorry")
	if err := ann.stop(); err != nil {
		t.Fatal(err)
	}
	closeAnn := startWindow(t, bin, ann.dir, xenv)
	defer func() { closeAnn() }()
	testutil.WaitFor(t, 60*time.Second, "ann's control socket", func() bool {
		_, err := cli(t, "status", "--data", ann.dir)
		return err == nil
	})
	// While the window is open: these arrive as changes, in place.
	run(ann, "edit", sure, "Sure, right after lunch")
	run(bob, "react", plan, "👍")
	run(carl, "react", plan, "👍")
	run(ann, "react", plan, "🎉")
	run(carl, "react", sure, "❤️")
	run(bob, "reply", notes, "I can take the changelog part")
	run(carl, "delete", oops)
	if e := os.Getenv("GUI_SHOTS_EMOJI"); e != "" {
		run(bob, "send", e) // to see which emoji Fyne's font draws well
	}
	settle()
	snap(t, xenv, filepath.Join(out, "chatops.png"))

	// The message menu: right click on bob's first message, then add a
	// reaction from the picker.
	xdoOK(t, xenv, "mousemove", "400", "110", "click", "3")
	settle()
	snap(t, xenv, filepath.Join(out, "message-menu.png"))
	xdoOK(t, xenv, "mousemove", "450", "167", "click", "1")
	settle()
	snap(t, xenv, filepath.Join(out, "reaction-picker.png"))
	xdoOK(t, xenv, "mousemove", "422", "130", "click", "1")
	// Reply to carl's message from its menu; the bar shows above the composer.
	xdoOK(t, xenv, "mousemove", "400", "210", "click", "3")
	xdoOK(t, xenv, "mousemove", "430", "228", "click", "1")
	xdoOK(t, xenv, "type", "--delay", "50", "done, two typos fixed")
	settle()
	snap(t, xenv, filepath.Join(out, "reply-bar.png"))
	xdoOK(t, xenv, "key", "Return")
	// Mention completion: type "@" and a letter in the composer.
	xdoOK(t, xenv, "type", "--delay", "80", "thanks @b")
	settle()
	snap(t, xenv, filepath.Join(out, "mention.png"))
	xdoOK(t, xenv, "key", "Tab")
	settle()
	snap(t, xenv, filepath.Join(checks, "mention-accepted.png"))
	// Up in an empty composer edits the last own message.
	xdoOK(t, xenv, "key", "ctrl+a", "BackSpace", "Up")
	settle()
	snap(t, xenv, filepath.Join(checks, "edit-last.png"))
	xdoOK(t, xenv, "key", "Escape")
	// The reply's quote jumps to its parent and highlights it.
	xdoOK(t, xenv, "mousemove", "400", "406", "click", "1")
	settle()
	snap(t, xenv, filepath.Join(checks, "jump.png"))
}

// shotsSetup skips without the X tools and returns where shots go.
func shotsSetup(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (tools/install-deps.sh)", tool)
		}
	}
	if out := os.Getenv("GUI_SHOTS_DIR"); out != "" {
		return out
	}
	return filepath.Join("docs", "screenshots")
}

func xdoOK(t *testing.T, env []string, args ...string) {
	t.Helper()
	if out, err := xdo(env, args...); err != nil {
		t.Fatalf("xdotool %v: %v: %s", args, err, out)
	}
}
