//go:build !headless

package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"concord/backend"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"

	"concord/app"
	"concord/control"
	"concord/node"
)

// guiMemoryLimit is the window's soft Go memory limit (about twice the
// live heap of a member showing a 100,000-message channel).
const guiMemoryLimit = 96 << 20

// haveGUI says whether this build can open a window.
const haveGUI = true

//go:embed assets/icon.png
var iconPNG []byte

// appIcon is the window and tray icon (also FyneApp.toml's).
var appIcon = fyne.NewStaticResource("icon.png", iconPNG)

// runGUI runs the member with its window until the window is closed, ctx
// ends (SIGINT/SIGTERM) or the member is removed from the team. It serves the
// same control socket as a headless member once the node runs, so the CLI
// works against it. It must run on the main goroutine (Fyne's driver).
func runGUI(ctx context.Context, dir, listen, name string, minimized bool, log *slog.Logger) error {
	// A soft limit on the Go heap: a desktop app lives for days, and with
	// the default GOGC alone the heap drifts to twice its live size between
	// collections (tens of MB of garbage counted in RSS; docs/benchmarks.md).
	// GOMEMLIMIT, when set, wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(guiMemoryLimit)
	}
	// One instance per data dir: started again (a second click on the
	// launcher), the app brings the running window to the front and exits.
	if control.Running(dir) {
		return showRunning(dir, log)
	}
	a := fyneapp.NewWithID("org.concord.chat")
	var foreground atomic.Bool
	foreground.Store(true)
	a.Lifecycle().SetOnEnteredForeground(func() { foreground.Store(true) })
	a.Lifecycle().SetOnExitedForeground(func() { foreground.Store(false) })
	w := a.NewWindow("Concord")
	// The window opens at the size it had when it was last closed.
	prefs := a.Preferences()
	w.Resize(fyne.NewSize(float32(prefs.FloatWithFallback("window.width", 1000)),
		float32(prefs.FloatWithFallback("window.height", 700))))
	w.SetOnClosed(func() {
		size := w.Canvas().Size()
		prefs.SetFloat("window.width", float64(size.Width))
		prefs.SetFloat("window.height", float64(size.Height))
	})
	w.SetMaster()
	// A tray entry brings the window back (Fyne adds Quit to the menu). On
	// Linux the tray talks D-Bus; without a session bus (a bare X server)
	// fyne.io/systray crashes on quit, so there is no tray there.
	tray := false
	if desk, ok := a.(desktop.App); ok && (runtime.GOOS != "linux" || os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "") {
		tray = true
		desk.SetSystemTrayMenu(fyne.NewMenu("Concord", fyne.NewMenuItem("Show Concord", func() {
			w.Show()
			w.RequestFocus()
		})))
		desk.SetSystemTrayIcon(appIcon)
	}
	a.SetIcon(appIcon)

	b := backend.New(backend.Config{Dir: dir, Logger: log, Control: true, Listen: []string{listen},
		Show: func() {
			fyne.Do(func() {
				w.Show()
				w.RequestFocus()
			})
		}})
	existing := b.HasMember()
	if existing {
		if err := b.Start(); err != nil {
			return err
		}
		b.WaitTeamState(ctx)
	}
	ui, err := app.New(app.Config{
		Backend:   b,
		Window:    w,
		Name:      name,
		Autostart: newAutostart(),
		Logger:    log,
		Do:        fyne.Do,
		// Starting parses fonts and replays the Raft log (after the first
		// election, often after the window shows): tens of MB of garbage
		// that Go hands back to the OS only slowly. Hand it back once both
		// are done (RSS, docs/benchmarks.md).
		Shown: func() {
			go func() {
				if b.WaitReplayed(ctx) == nil {
					debug.FreeOSMemory()
				}
			}()
		},
		Notify: func(title, body string) {
			// Only while the window is in the background: in front, the
			// message list and unread counts say it already.
			if !foreground.Load() {
				a.SendNotification(fyne.NewNotification(title, body))
			}
		},
	})
	if err != nil {
		return errors.Join(err, b.Close())
	}
	if existing {
		ui.ShowChat()
	} else {
		ui.ShowWelcome()
	}

	// Quit on a signal or when removed from the team; the removed channel
	// exists only once a node runs, so look again after a first run.
	stop := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		started := b.Started()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				log.Info("shutting down")
				fyne.Do(a.Quit)
				return
			case <-b.Removed():
				// Say why the team is gone, then quit when it is read.
				msg := node.RemovedError(dir)
				log.Warn("removed from the team", "err", msg)
				fyne.Do(func() {
					d := dialog.NewInformation("Removed from the team", msg.Error(), w)
					d.SetOnClosed(a.Quit)
					d.Show()
				})
				return
			case <-started:
				started = nil // look at b.Removed() again, now non-nil
			}
		}
	}()

	if minimized && tray && existing {
		// Started at login: in the tray until the user opens the window.
		a.Run()
	} else {
		w.ShowAndRun()
	}
	close(stop)
	<-watchDone
	return errors.Join(ui.Close(), b.Close())
}

// showRunning asks the window already running on dir to come to the front.
func showRunning(dir string, log *slog.Logger) error {
	c, err := control.NewClient(dir)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var ok struct{ OK bool }
		err = c.Call(ctx, http.MethodPost, "/v1/show", nil, &ok)
	}
	if err != nil {
		return fmt.Errorf("a member already runs on %s without a window (stop it first, or use the CLI): %w", dir, err)
	}
	log.Info("Concord is already running on this data dir: brought its window to the front", "data", dir)
	return nil
}
