//go:build !headless

package main

// The GUI smoke test: a real `concord run` with a window under Xvfb, driven
// with xdotool like a user, next to a headless member driven by the CLI.

import (
	"concord/control"
	"concord/internal/testutil"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestGUISmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("GUI smoke test: not with -short")
	}
	for _, tool := range []string{"Xvfb", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("GUI smoke test needs %s (see .ci/run)", tool)
		}
	}
	buildConcord(t)

	xenv := startXvfb(t)
	x := func(args ...string) (string, error) { return xdo(xenv, args...) }

	// A: created and run headlessly with the CLI.
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "A"), filepath.Join(root, "B")
	out, err := cli(t, "init", "--data", dirA, "--name", "alice", "--listen", loopback, "--ntp", noNTP[0])
	if err != nil {
		t.Fatal(err)
	}
	a := newProc(t, "A", dirA, strings.TrimSpace(out))
	a.start()
	testutil.WaitFor(t, 30*time.Second, "A to lead", func() bool {
		st, err := a.status()
		return err == nil && st.Leader != ""
	})

	// B: joined with the CLI, then run with a window.
	code, err := cli(t, "invite", "--data", dirA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, "join", "--data", dirB, "--name", "bob", "--invite", strings.TrimSpace(code), "--listen", loopback, "--ntp", noNTP[0]); err != nil {
		t.Fatal(err)
	}
	logB := filepath.Join(root, "B.log")
	f, err := os.Create(logB)
	if err != nil {
		t.Fatal(err)
	}
	b := exec.Command(buildConcord(t), "run", "--data", dirB, "--log-level", "info")
	b.Env = xenv
	b.Stdout, b.Stderr = f, f
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bDone := make(chan error, 1)
	go func() { bDone <- b.Wait() }()
	t.Cleanup(func() {
		select {
		case <-bDone:
		default:
			_ = b.Process.Kill()
			<-bDone
		}
		if t.Failed() {
			t.Logf("--- log of GUI member B:\n%s", tailFile(logB, 150))
		}
	})
	bAlive := func() {
		select {
		case err := <-bDone:
			bDone <- err
			t.Fatalf("GUI member B exited: %v", err)
		default:
		}
	}
	// B serves the control socket in GUI mode too.
	testutil.WaitFor(t, 60*time.Second, "GUI member B to answer on its socket", func() bool {
		bAlive()
		_, err := cli(t, "status", "--data", dirB, "--json")
		return err == nil
	})
	// Started again on the same data dir (a second click on the launcher),
	// the app brings B's window forward and exits; B runs on.
	again := exec.Command(buildConcord(t), "run", "--data", dirB)
	again.Env = xenv
	if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second start on B's data dir: %v: %s", err, out)
	}
	bAlive()
	if _, err := cli(t, "status", "--data", dirB); err != nil {
		t.Fatalf("B after a second start: %v", err)
	}
	testutil.WaitFor(t, 30*time.Second, "2 voters on A and B", func() bool {
		for _, d := range []string{dirA, dirB} {
			out, err := cli(t, "status", "--data", d, "--json")
			if err != nil {
				return false
			}
			var st control.Status
			if json.Unmarshal([]byte(out), &st) != nil || len(st.Voters) != 2 || st.Leader == "" {
				return false
			}
		}
		return true
	})

	// Type into B's window like a user.
	var win string
	testutil.WaitFor(t, 30*time.Second, "B's window", func() bool {
		bAlive()
		out, err := x("search", "--onlyvisible", "--name", "Concord")
		if err != nil || out == "" {
			return false
		}
		win = strings.Fields(out)[0]
		return true
	})
	time.Sleep(2 * time.Second) // let the chat view load and focus the composer
	if _, err := x("windowactivate", "--sync", win); err != nil {
		// Xvfb has no window manager to activate windows: focus directly.
		if out, err := x("windowfocus", "--sync", win); err != nil {
			t.Logf("windowfocus: %v: %s", err, out)
		}
	}
	// Click into the composer (bottom of the 1000x700 window) so that it
	// has Fyne's focus whatever the view focused first, type, press Return.
	// A slow machine may still be drawing the chat: try up to 3 times.
	geo, _ := x("getwindowgeometry", win)
	t.Logf("window %s: %s", win, geo)
	const fromGUI = "hello from the gui"
	t.Cleanup(func() {
		if t.Failed() {
			screenshot(t, xenv)
		}
	})
	for attempt := 1; ; attempt++ {
		bAlive()
		if out, err := x("mousemove", "--window", win, "600", "628", "click", "1"); err != nil {
			t.Fatalf("xdotool click: %v: %s", err, out)
		}
		time.Sleep(300 * time.Millisecond)
		if out, err := x("type", "--delay", "30", fromGUI); err != nil {
			t.Fatalf("xdotool type: %v: %s", err, out)
		}
		if out, err := x("key", "Return"); err != nil {
			t.Fatalf("xdotool key: %v: %s", err, out)
		}
		if testutil.Poll(context.Background(), 15*time.Second, 200*time.Millisecond,
			func() (bool, string) { return historyHas(t, dirA, fromGUI), "" }) == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("A did not receive %q typed in B's window (3 attempts)", fromGUI)
		}
		t.Logf("attempt %d: not received yet; typing again", attempt)
	}

	// And the other way: sent from A, received by B.
	const fromCLI = "hello from the cli"
	if _, err := cli(t, "send", "--data", dirA, fromCLI); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "B to receive A's message", func() bool {
		return historyHas(t, dirB, fromCLI)
	})
	time.Sleep(time.Second) // let the window draw it
	screenshot(t, xenv)

	// SIGTERM stops the GUI member cleanly (the window closes, the node
	// stops). xdotool cannot close a window the way a window manager does
	// (WM_DELETE_WINDOW) without one: its windowclose destroys the X window
	// under GLFW, which is not what a user's close button does.
	_ = b.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-bDone:
		bDone <- err
		if err != nil {
			t.Errorf("B after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("B still running 20s after SIGTERM")
	}
}

// historyHas reports whether #general of the member in dir holds text.
func historyHas(t *testing.T, dir, text string) bool {
	return historyOf(t, func(args ...string) (string, error) { return cli(t, args...) }, dir, text)
}

// screenshot saves the virtual screen to $TMPDIR/concord-gui-smoke.png,
// if xwd and ImageMagick's convert are installed.
func screenshot(t *testing.T, env []string) {
	path := filepath.Join(os.TempDir(), "concord-gui-smoke.png")
	var cmd *exec.Cmd
	if _, err := exec.LookPath("import"); err == nil {
		cmd = exec.Command("import", "-window", "root", path)
	} else if _, err := exec.LookPath("xwd"); err == nil {
		cmd = exec.Command("sh", "-c", fmt.Sprintf("xwd -root -silent | convert xwd:- %q", path))
	} else {
		t.Log("no screenshot: neither import nor xwd is installed")
		return
	}
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("no screenshot: %v: %s", err, out)
		return
	}
	t.Logf("screenshot: %s", path)
}
