//go:build guishots && !headless

package main

// `make screenshots`: the README's screenshots, taken of the real GUI under
// Xvfb: the welcome screen, then a member of a three-person team with
// history in three channels, its member panel, settings and invite dialogs,
// search results, a private conversation and an image's thumbnail.

import (
	"concord/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGUIScreenshots(t *testing.T) {
	for _, tool := range []string{"Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (tools/install-deps.sh)", tool)
		}
	}
	out := os.Getenv("GUI_SHOTS_DIR")
	if out == "" {
		out = filepath.Join("docs", "screenshots")
	}
	bin := buildConcord(t)
	xenv := startXvfb(t)
	home := t.TempDir()
	xenv = append(xenv, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))

	// The welcome screen: a window on an empty data dir.
	welcome := startWindow(t, bin, filepath.Join(t.TempDir(), "new"), xenv)
	settle()
	snap(t, xenv, filepath.Join(out, "welcome.png"))
	welcome()

	// A team of three with some history; ann then opens her window.
	tm := newProcTeam(t, "ann", "bob", "carl")
	ann, bob, carl := tm.procs[0], tm.procs[1], tm.procs[2]
	for _, ch := range []string{"random", "design"} {
		if _, err := cli(t, "channels", "--data", ann.dir, "--create", ch); err != nil {
			t.Fatal(err)
		}
	}
	say := func(p *proc, channel, text string) {
		t.Helper()
		if _, err := cli(t, "send", "--data", p.dir, "--channel", channel, text); err != nil {
			t.Fatal(err)
		}
	}
	say(bob, "general", "Morning! The 0.3 build is on the share, installers for Linux and Windows.")
	say(bob, "general", "Release notes are in the usual place.")
	say(ann, "general", "Thanks Bob, trying it now.")
	say(carl, "general", "Works here. The member list finally shows who is offline, nice.")
	say(carl, "general", "One thing: the window remembers its size now, so my tiling setup is happy.")
	say(ann, "general", "Great. Let's do the retro on Thursday at 10:00 —\nI'll send the agenda tomorrow.")
	say(bob, "general", "👍 works for me")
	say(bob, "design", "Mock-ups for the settings screen are up for review.")
	seedFeatures(t, ann, bob)
	if err := ann.stop(); err != nil {
		t.Fatal(err)
	}
	closeAnn := startWindow(t, bin, ann.dir, xenv)
	defer func() { closeAnn() }() // the window open at the end
	// News while the window is open: unread counts on the other channels.
	testutil.WaitFor(t, 60*time.Second, "ann's control socket", func() bool {
		_, err := cli(t, "status", "--data", ann.dir)
		return err == nil
	})
	say(bob, "random", "Anyone up for lunch at noon?")
	say(carl, "random", "Yes, the usual place")
	say(carl, "design", "Left a few comments on the mock-ups.")
	// carl goes offline: the member panel says so once the probes notice.
	carl.kill()
	testutil.WaitFor(t, 60*time.Second, "carl to show offline", func() bool {
		out, err := cli(t, "members", "--data", ann.dir)
		return err == nil && strings.Contains(out, "offline")
	})
	settle()
	snap(t, xenv, filepath.Join(out, "main.png"))

	if out, err := xdo(xenv, "key", "ctrl+comma"); err != nil {
		t.Fatalf("xdotool: %v: %s", err, out)
	}
	settle()
	snap(t, xenv, filepath.Join(out, "settings.png"))
	// Fyne's dialogs do not close on Escape: open the window again.
	closeAnn()
	closeAnn = startWindow(t, bin, ann.dir, xenv)
	settle()
	// The member panel's Invite… button, top right of the 1000x700 window.
	if out, err := xdo(xenv, "mousemove", "950", "49", "click", "1"); err != nil {
		t.Fatalf("xdotool: %v: %s", err, out)
	}
	settle()
	snap(t, xenv, filepath.Join(out, "invite.png"))
	closeAnn()
	closeAnn = featureShots(t, bin, ann.dir, out, xenv)
}

// startWindow runs `concord run` on dir with a window, waits for the window
// and returns a func that stops it.
func startWindow(t *testing.T, bin, dir string, env []string) func() {
	t.Helper()
	cmd := exec.Command(bin, "run", "--data", dir, "--listen", "/ip4/127.0.0.1/tcp/0")
	cmd.Env = env
	logPath := filepath.Join(t.TempDir(), "window.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	testutil.WaitFor(t, 60*time.Second, "the window", func() bool {
		out, err := xdo(env, "search", "--onlyvisible", "--name", "Concord")
		return err == nil && out != ""
	})
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("--- window log:\n%s", tailFile(logPath, 60))
		}
	}
}

// settle gives the window time to draw what it was just asked to: a
// screenshot is not a test assertion, so a pause is good enough here.
func settle() { <-time.After(2 * time.Second) }

// snap saves the window (at 0,0 with no window manager, 1000x700).
func snap(t *testing.T, env []string, path string) {
	t.Helper()
	cmd := exec.Command("import", "-window", "root", "-crop", "1000x700+0+0", "+repage", path)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("screenshot %s: %v: %s", path, err, out)
	}
	t.Logf("screenshot %s", path)
}
