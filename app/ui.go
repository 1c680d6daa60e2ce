package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
)

// Defaults for Config.
const (
	DefaultSendTimeout = 10 * time.Second
	DefaultPageSize    = 100
	DefaultMaxMessages = 500
	defaultCallTimeout = 10 * time.Second
)

// Config configures the GUI.
type Config struct {
	Backend Backend      // required
	Window  fyne.Window  // required: the GUI sets its content
	Logger  *slog.Logger // default slog.Default()

	Location    *time.Location   // time zone for timestamps, default time.Local
	Now         func() time.Time // default time.Now (only used for "today" and pending rows)
	SendTimeout time.Duration    // how long a send waits before showing "queued"
	PageSize    int              // messages fetched per History call
	MaxMessages int              // messages kept while following the newest
	// FetchImageBytes is the largest image fetched to show its thumbnail
	// (one already on this member shows whatever its size).
	FetchImageBytes int64

	// Notify, if set, is called on the UI thread for each new message by
	// someone else (in any channel); the caller decides whether to show it,
	// e.g. with fyne.App.SendNotification only while the window is in the
	// background. Nil: no notifications.
	Notify func(title, body string)

	// Preferences keep the GUI's own settings (muted channels); default
	// the app's preferences, nil when there is no app (then they last the
	// session).
	Preferences fyne.Preferences

	// Autostart, if set, adds "Start Concord when I log in" to the
	// settings (the desktop's autostart entry; nil where there is none).
	Autostart Autostart

	// Name, if set, fills the "Your name" fields of the first-run form
	// (`concord run --name`, `make run NAME=`).
	Name string

	// Shown, if set, is called once on the UI thread when the first
	// channel's newest messages are on screen: start-up is over.
	Shown func()

	// Do runs f on the UI thread; default fyne.Do. Tests replace it.
	Do func(f func())
	// Go runs f in the background; default a goroutine Close waits for.
	Go func(f func())
}

// Validate checks required fields.
func (c *Config) Validate() error {
	if c.Backend == nil {
		return errors.New("app: Config.Backend is required")
	}
	if c.Window == nil {
		return errors.New("app: Config.Window is required")
	}
	return nil
}

// UI is the Concord window's content: the welcome screen on first run, then
// the chat. Create it with New; Close it once.
type UI struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards closed and unsub
	closed bool
	unsub  func()

	welcome *welcome
	chat    *chat
}

// New checks cfg, fills its defaults and returns a UI that shows nothing yet.
func New(cfg Config) (*UI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.FetchImageBytes <= 0 {
		cfg.FetchImageBytes = DefaultFetchImageBytes
	}
	if cfg.Do == nil {
		cfg.Do = fyne.Do
	}
	if a := fyne.CurrentApp(); cfg.Preferences == nil && a != nil {
		cfg.Preferences = a.Preferences()
	}
	u := &UI{cfg: cfg, log: cfg.Logger.With("component", "app")}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	if u.cfg.Go == nil {
		u.cfg.Go = func(f func()) {
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				f()
			}()
		}
	}
	return u, nil
}

// ShowWelcome shows the first-run screen; after a team is created or joined
// the chat opens. Call it on the UI thread.
func (u *UI) ShowWelcome() {
	u.welcome = newWelcome(u, u.ShowChat)
	u.welcome.browse()
	u.cfg.Window.SetContent(u.welcome.content)
	u.cfg.Window.Canvas().Focus(u.welcome.teamName)
}

// ShowChat shows the chat and starts following the Backend's events. Call
// it on the UI thread, once the member is running.
func (u *UI) ShowChat() {
	u.chat = newChat(u)
	u.cfg.Window.SetContent(u.chat.content)
	u.cfg.Window.SetMainMenu(u.chat.menu())
	u.subscribe()
	u.chat.start()
}

// Close stops following events and waits for background work. It is
// idempotent.
func (u *UI) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	unsub := u.unsub
	u.mu.Unlock()
	u.cancel()
	if unsub != nil {
		unsub()
	}
	u.wg.Wait()
	return nil
}

// subscribe pumps Backend events to the chat on the UI thread.
func (u *UI) subscribe() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.unsub != nil {
		return
	}
	events, unsub := u.cfg.Backend.Events()
	u.unsub = unsub
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			select {
			case <-u.ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				u.cfg.Do(func() { u.chat.handle(ev) })
			}
		}
	}()
}

// background runs call off the UI thread with a timeout, then done on it.
func (u *UI) background(call func(ctx context.Context) error, done func(err error)) {
	u.cfg.Go(func() {
		ctx, cancel := context.WithTimeout(u.ctx, defaultCallTimeout)
		err := call(ctx)
		cancel()
		if done != nil {
			u.cfg.Do(func() { done(err) })
		}
	})
}

// oneLine makes a short, one-line sentence of err for a label; the detail
// goes to the log.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// Autostart starts the app when the user logs in: an entry in the
// desktop's autostart list (main implements it per platform).
type Autostart interface {
	Enabled() bool
	Set(on bool) error
}
