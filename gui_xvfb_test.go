//go:build !headless

package main

import (
	"bufio"
	"concord/internal/testutil"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startXvfb starts a virtual X server on a display number it picks itself
// (-displayfd), so a display left in use elsewhere is no problem, waits
// until it accepts clients and returns the environment for programs that
// use it (software GL). It is stopped when the test ends.
func startXvfb(t *testing.T) []string {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	xvfb := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	xvfb.ExtraFiles = []*os.File{pw}
	if err := xvfb.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	pw.Close()
	t.Cleanup(func() {
		_ = xvfb.Process.Kill()
		_ = xvfb.Wait()
	})
	_ = pr.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(pr).ReadString('\n')
	pr.Close()
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	display := ":" + strings.TrimSpace(line)
	t.Logf("Xvfb on display %s", display)
	env := append(os.Environ(), "DISPLAY="+display, "LIBGL_ALWAYS_SOFTWARE=1", "LANG=en_US.UTF-8")
	testutil.WaitFor(t, 10*time.Second, "Xvfb to accept clients", func() bool {
		_, err := xdo(env, "getmouselocation")
		return err == nil
	})
	return env
}

// xdo runs xdotool with env and returns its trimmed output.
func xdo(env []string, args ...string) (string, error) {
	cmd := exec.Command("xdotool", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
