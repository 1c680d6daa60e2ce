package app

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// harness runs the UI against a fakeBackend with Fyne's test driver. Its
// Do queues UI work and its Go runs background work inline, so every
// widget is touched on the test goroutine: settle runs what is queued,
// waitUI waits for work the event pump queued.
type harness struct {
	t    *testing.T
	fake *fakeBackend
	win  fyne.Window
	ui   *UI
	q    chan func()
}

func newHarness(t *testing.T, opts ...func(*Config)) *harness {
	t.Helper()
	test.NewTempApp(t)
	h := &harness{t: t, fake: newFakeBackend(), q: make(chan func(), 1024)}
	h.win = test.NewWindow(nil)
	h.win.Resize(fyne.NewSize(900, 600))
	cfg := Config{
		Backend: h.fake, Window: h.win, Location: time.UTC, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return h.fake.now },
		Do:  func(f func()) { h.q <- f },
		Go:  func(f func()) { f() },
	}
	for _, o := range opts {
		o(&cfg)
	}
	ui, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.ui = ui
	t.Cleanup(func() {
		if err := ui.Close(); err != nil {
			t.Error(err)
		}
		h.win.Close()
	})
	return h
}

// settle runs queued UI work until none is left.
func (h *harness) settle() {
	for {
		select {
		case f := <-h.q:
			f()
		default:
			return
		}
	}
}

// waitUI waits for one piece of UI work (from the event pump), then settles.
func (h *harness) waitUI() {
	h.t.Helper()
	select {
	case f := <-h.q:
		f()
	case <-time.After(5 * time.Second):
		h.t.Fatal("no UI work queued within 5s")
	}
	h.settle()
}

// push sends ev through the fake and waits until the UI handled it.
func (h *harness) push(ev Event) {
	h.t.Helper()
	h.fake.push(ev)
	h.waitUI()
}

// openChat shows the chat and waits for its first channel.
func (h *harness) openChat() *chat {
	h.t.Helper()
	h.ui.ShowChat()
	h.settle()
	if h.ui.chat.current == "" {
		h.t.Fatal("no channel opened")
	}
	return h.ui.chat
}

// texts returns the message view's rows as text; state after a " | ".
func texts(v *messageView) []string {
	out := make([]string, 0, len(v.lines))
	for _, l := range v.lines {
		s := l.text
		if l.kind == lineHeader {
			s = "[" + s + "]"
		}
		if l.state != "" {
			s += " | " + l.state
		}
		out = append(out, s)
	}
	return out
}

func joined(v *messageView) string { return strings.Join(texts(v), "\n") }
