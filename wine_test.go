//go:build wine

package main

// The Windows build under Wine (make test-windows): dist/Concord.msi, the
// installer `make package` builds, installs Concord.exe with its Start-menu
// entries; the .exe, started the way the Start menu starts it (no
// arguments), joins a Linux member's team through its welcome window with
// an invite code, chats both ways, and the same .exe's CLI talks to it
// over its control pipe; uninstalling takes the program and its Start-menu
// entries away and leaves the user's data. Wine 8.0 (Debian 12) lacks two things Windows
// has, each worked around here and only here:
//   - bcryptprimitives.dll (ProcessPrng, which Go >= 1.22's runtime needs):
//     a shim built from tools/wine/processprng.c goes into the test's own
//     prefix;
//   - multicast sockets (WSAIoctl SIO_GET_INTERFACE_LIST: "winapi error
//     #10045"): LAN discovery logs that it is off and the member carries on;
//     the test checks both.

import (
	"bytes"
	"cmp"
	"concord/control"
	"concord/internal/testutil"
	"concord/version"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wineTimeout bounds one CLI run of the .exe under Wine (a cold Wine
// process takes a few seconds to start on 2 cores).
const wineTimeout = 60 * time.Second

// wine is a Wine prefix of the test's own, on an Xvfb display.
type wine struct {
	t      *testing.T
	prefix string
	env    []string
	exe    string // Concord.exe, inside the prefix's C:
}

func TestWindowsBuildUnderWine(t *testing.T) {
	msi, err := filepath.Abs(cmp.Or(os.Getenv("CONCORD_MSI"), "dist/Concord.msi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(msi); err != nil {
		t.Fatalf("%v: build it with make package-windows (make test-windows does)", err)
	}
	for _, tool := range []string{"wine", "wineserver", "x86_64-w64-mingw32-gcc", "Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("needs %s: tools/install-deps.sh wine installs it", tool)
		}
	}
	root := t.TempDir()
	xenv := startXvfb(t)
	w := newWine(t, root, xenv)
	w.install(msi)

	// The Linux member: the static headless build, run as a process on
	// 127.0.0.1, driven by its CLI.
	lin := buildHeadless(t, root)
	linux := func(args ...string) (string, error) { return runCLI(t, lin, "", args...) }
	dirL := filepath.Join(root, "linux")
	out, err := linux("init", "--data", dirL, "--name", "lin", "--team", "Mixed office", "--listen", loopback, "--ntp", noNTP[0])
	if err != nil {
		t.Fatal(err)
	}
	l := newProc(t, "linux", dirL, strings.TrimSpace(out))
	l.bin = lin
	l.start()
	code, err := linux("invite", "--data", dirL)
	if err != nil {
		t.Fatal(err)
	}

	// The Windows member: Concord.exe with no arguments, as its Start-menu
	// shortcut runs it, opens the welcome window on %APPDATA%\Concord.
	win := w.startGUI(filepath.Join(root, "windows.log"))
	// WINE_ARTIFACTS keeps the screenshots and the Windows member's log.
	artifacts := cmp.Or(os.Getenv("WINE_ARTIFACTS"), root)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			w.screenshot("root", filepath.Join(artifacts, "failed.png"))
			t.Logf("screenshot of the failure: %s", filepath.Join(artifacts, "failed.png"))
		}
		if b, err := os.ReadFile(win.log); err == nil {
			_ = os.WriteFile(filepath.Join(artifacts, "windows.log"), b, 0o644)
		}
	})
	winID := w.waitWindow(win)
	w.screenshot(winID, filepath.Join(artifacts, "windows-wine-welcome.png"))
	// The join card is the right half of the welcome window: its invite
	// code field first, then the name. Tab moves between them; Enter in
	// the name field joins.
	w.click(winID, 750, 150)
	w.typeText(strings.TrimSpace(code))
	w.key("Tab")
	w.typeText("win")
	w.key("Return")

	appdata := w.appData()
	dirW := filepath.Join(appdata, "Concord")
	testutil.WaitFor(t, 90*time.Second, "the Windows member to join (Linux's member list)", func() bool {
		win.alive()
		out, err := linux("members", "--data", dirL, "--json")
		return err == nil && strings.Contains(out, `"name":"win"`)
	})
	if _, err := os.Stat(filepath.Join(dirW, "config.json")); err != nil {
		t.Fatalf("the Windows member's data is not in %%APPDATA%%\\Concord: %v", err)
	}

	// The Windows CLI, with no --data (the default, %APPDATA%\Concord),
	// reaches the running window's member over its named pipe.
	var st control.Status
	testutil.WaitFor(t, 60*time.Second, "the Windows CLI's status to show the team", func() bool {
		win.alive()
		out, err := w.cli("status", "--json")
		if err != nil {
			t.Logf("status: %v", err)
			return false
		}
		return json.Unmarshal([]byte(out), &st) == nil && st.Leader != ""
	})
	t.Logf("Windows member's status: team %q, leader %s, voters %d", st.Team, st.Leader, len(st.Voters))
	if _, err := w.cli("send", "hello from the windows cli"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "Linux to get the Windows CLI's message", func() bool {
		return historyOf(t, linux, dirL, "hello from the windows cli")
	})

	// Typed in the Windows window (the composer is at the bottom), read on
	// Linux.
	const typed = "hello from windows"
	w.click(winID, 600, 628)
	w.typeText(typed)
	w.key("Return")
	testutil.WaitFor(t, 30*time.Second, "Linux to get the message typed in the Windows window", func() bool {
		win.alive()
		return historyOf(t, linux, dirL, typed)
	})

	// Sent on Linux, read on Windows: by its CLI, and shown in its window.
	const fromLinux = "hello from linux"
	before := w.grab()
	if _, err := linux("send", "--data", dirL, fromLinux); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "the Windows member to get Linux's message", func() bool {
		out, err := w.cli("history", "--json")
		return err == nil && strings.Contains(out, fromLinux)
	})
	// The window draws the message within a frame or two of having it; the
	// screenshot is taken once the screen has changed since the send and
	// then stays the same between two looks.
	testutil.WaitFor(t, 10*time.Second, "the window to redraw with Linux's message", func() bool {
		return !bytes.Equal(before, w.grab())
	})
	last := w.grab()
	testutil.WaitFor(t, 10*time.Second, "the window to settle", func() bool {
		now := w.grab()
		same := bytes.Equal(last, now)
		last = now
		return same
	})
	shot := filepath.Join(artifacts, "windows-wine.png")
	w.screenshot(winID, shot)
	t.Logf("screenshot: %s", shot)

	// Started again (a second click on the Start-menu entry), Concord.exe
	// finds the running one on its pipe, brings its window forward and
	// exits; the first runs on.
	if out, err := w.run(wineTimeout, "wine", w.exe); err != nil || !strings.Contains(out, "already running") {
		t.Fatalf("second start: %v: %s", err, out)
	}
	win.alive()
	if _, err := w.cli("status"); err != nil {
		t.Fatalf("the first instance after a second start: %v", err)
	}

	// LAN discovery: Go's UDP sockets fail under Wine 8 (net.netFD.init's
	// WSAIoctl SIO_UDP_NETRESET, which Wine does not implement: error 10045),
	// so mDNS (and NTP) cannot work here. The member must say so and carry
	// on (it did: it joined and chats, on the leader's time).
	log, err := os.ReadFile(win.log)
	if err != nil {
		t.Fatal(err)
	}
	if l := grepLine(string(log), "mdns discovery started"); l != "" {
		t.Logf("LAN discovery works here: %s", l)
	} else if l := grepLine(string(log), "cannot look for teams on the lan"); l != "" {
		t.Logf("LAN discovery off under Wine, said so: %s", l)
	} else {
		t.Errorf("the Windows member's log says nothing about LAN discovery")
	}
	if err := win.stop(); err != nil {
		t.Error(err)
	}

	// Uninstalled (Start menu › Uninstall Concord runs msiexec /x): the
	// program and its menu entries go, the user's chats stay.
	if out, err := w.run(2*time.Minute, "wine", "msiexec", "/x", msi, "/qn"); err != nil {
		t.Fatalf("msiexec /x: %v\n%s", err, out)
	}
	for _, gone := range []string{w.exe, w.menuDir()} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after uninstalling, %s: %v (want gone)", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dirW, "config.json")); err != nil {
		t.Errorf("uninstalling took the user's data: %v", err)
	}
}

// install installs msi quietly, as an administrator double-clicking it
// would, and checks what it put where.
func (w *wine) install(msi string) {
	t := w.t
	t.Helper()
	if out, err := w.run(2*time.Minute, "wine", "msiexec", "/i", msi, "/qn"); err != nil {
		t.Fatalf("msiexec /i: %v\n%s", err, out)
	}
	w.exe = filepath.Join(w.prefix, "drive_c", "Program Files", "Concord", "Concord.exe")
	if _, err := os.Stat(w.exe); err != nil {
		t.Fatalf("the MSI did not install Concord.exe: %v", err)
	}
	for _, lnk := range []string{"Concord.lnk", "Uninstall Concord.lnk"} {
		if _, err := os.Stat(filepath.Join(w.menuDir(), lnk)); err != nil {
			t.Errorf("the MSI's Start-menu entry: %v", err)
		}
	}
	out, err := w.run(wineTimeout, "wine", "reg", "query", `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall`, "/s")
	if err != nil || !strings.Contains(out, "DisplayName    REG_SZ    Concord") || !strings.Contains(out, "DisplayVersion    REG_SZ    "+version.Release) {
		t.Errorf("Apps & features has no Concord %s: %v\n%s", version.Release, err, out)
	}
}

// menuDir is the Start-menu folder the MSI makes (Wine puts it in the
// user's profile).
func (w *wine) menuDir() string {
	m, _ := filepath.Glob(filepath.Join(w.prefix, "drive_c", "users", "*", "AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Concord"))
	if len(m) == 0 {
		return filepath.Join(w.prefix, "drive_c", "users", "no-start-menu-folder")
	}
	return m[0]
}

// grepLine returns the first line of s containing sub, or "".
func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), sub) {
			return l
		}
	}
	return ""
}

// buildHeadless builds the static Linux member binary into dir.
func buildHeadless(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "concord-headless")
	cmd := exec.Command("go", "build", "-tags", "headless", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags headless: %v\n%s", err, out)
	}
	return bin
}

// newWine makes a Wine prefix in root with the ProcessPrng shim, and
// returns it; Wine's server is stopped when the test ends.
func newWine(t *testing.T, root string, xenv []string) *wine {
	t.Helper()
	w := &wine{t: t, prefix: filepath.Join(root, "wineprefix")}
	// No Mono or Gecko install prompts; no debug chatter.
	w.env = append(xenv, "WINEPREFIX="+w.prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	start := time.Now()
	if out, err := w.run(2*time.Minute, "wineboot", "--init"); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		cmd := exec.Command("wineserver", "-k")
		cmd.Env = w.env
		_ = cmd.Run()
	})
	if out, err := w.run(2*time.Minute, "wineserver", "-w"); err != nil {
		t.Fatalf("wineserver -w: %v\n%s", err, out)
	}
	t.Logf("Wine prefix made in %v", time.Since(start).Round(time.Second))
	shim := filepath.Join(w.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if _, err := os.Stat(shim); err == nil {
		t.Fatalf("this Wine has its own %s: drop the shim from the test", shim)
	}
	if out, err := exec.Command("x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", shim,
		"tools/wine/processprng.c", "-ladvapi32").CombinedOutput(); err != nil {
		t.Fatalf("building the ProcessPrng shim: %v\n%s", err, out)
	}
	return w
}

// run runs a Wine program to completion. Its output goes through a file,
// not a pipe: wineboot starts Wine's server, which keeps its copy of
// stdout open after wineboot exits.
func (w *wine) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	f, err := os.CreateTemp("", "wine-out-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// cli runs Concord.exe with a CLI subcommand and returns its stdout.
func (w *wine) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wineTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "wine", append([]string{w.exe}, args...)...)
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("Concord.exe %s: %v: %s", strings.Join(shorten(args), " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// appData is the Unix path of the prefix user's %APPDATA%.
func (w *wine) appData() string {
	w.t.Helper()
	out, err := w.run(wineTimeout, "wine", "cmd", "/c", "echo", "%APPDATA%")
	if err != nil {
		w.t.Fatalf("%%APPDATA%%: %v: %s", err, out)
	}
	out, err = w.run(wineTimeout, "winepath", "-u", strings.TrimSpace(out))
	if err != nil {
		w.t.Fatalf("winepath: %v: %s", err, out)
	}
	return strings.TrimSpace(out)
}

// winProc is the running window's Wine process.
type winProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startGUI starts Concord.exe with no arguments; it is killed when the
// test ends and its log printed if the test failed.
func (w *wine) startGUI(logPath string) *winProc {
	t := w.t
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("wine", w.exe)
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p := &winProc{t: t, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-p.done:
			p.done <- err
		default:
			_ = cmd.Process.Kill()
			p.done <- <-p.done
		}
		if t.Failed() {
			t.Logf("--- log of the Windows member (%s):\n%s", logPath, tailFile(logPath, 150))
		}
	})
	return p
}

// alive fails the test if the window's process has exited.
func (p *winProc) alive() {
	select {
	case err := <-p.done:
		p.done <- err
		p.t.Fatalf("Concord.exe exited: %v", err)
	default:
	}
}

// stop ends the window's process; Wine's own processes go with the
// prefix's server at the end of the test.
func (p *winProc) stop() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("Concord.exe had already exited: %v", err)
	default:
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return err
	}
	return nil
}

// waitWindow waits for the Concord window to be mapped and returns its
// X window ID.
func (w *wine) waitWindow(p *winProc) string {
	w.t.Helper()
	var id string
	testutil.WaitFor(w.t, 90*time.Second, "the Concord window", func() bool {
		p.alive()
		out, err := xdo(w.env, "search", "--onlyvisible", "--name", "^Concord$")
		if err != nil || out == "" {
			return false
		}
		id = strings.Fields(out)[0]
		return true
	})
	geo, _ := xdo(w.env, "getwindowgeometry", id)
	w.t.Logf("window %s: %s", id, geo)
	// The window starts black; the welcome screen (light theme) is drawn
	// once the window is mostly light.
	testutil.WaitFor(w.t, 60*time.Second, "the welcome screen to be drawn", func() bool {
		p.alive()
		cmd := exec.Command("import", "-window", id, "-format", "%[fx:mean]", "info:")
		cmd.Env = w.env
		out, err := cmd.Output()
		mean, perr := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		return err == nil && perr == nil && mean > 0.5
	})
	return id
}

func (w *wine) click(win string, x, y int) {
	w.t.Helper()
	if out, err := xdo(w.env, "mousemove", "--window", win, fmt.Sprint(x), fmt.Sprint(y), "click", "1"); err != nil {
		w.t.Fatalf("xdotool click: %v: %s", err, out)
	}
}

func (w *wine) typeText(s string) {
	w.t.Helper()
	if out, err := xdo(w.env, "type", "--delay", "15", s); err != nil {
		w.t.Fatalf("xdotool type: %v: %s", err, out)
	}
}

func (w *wine) key(k string) {
	w.t.Helper()
	if out, err := xdo(w.env, "key", k); err != nil {
		w.t.Fatalf("xdotool key: %v: %s", err, out)
	}
}

// grab returns the screen's pixels (a PPM), to tell whether it changed.
func (w *wine) grab() []byte {
	cmd := exec.Command("import", "-window", "root", "ppm:-")
	cmd.Env = w.env
	out, _ := cmd.Output()
	return out
}

// screenshot saves X window win ("root": the whole screen) as path.
func (w *wine) screenshot(win, path string) {
	cmd := exec.Command("import", "-window", win, path)
	cmd.Env = w.env
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Logf("screenshot %s: %v: %s", path, err, out)
	}
}
