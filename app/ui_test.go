package app

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestConfigValidate(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	defer w.Close()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"no backend", Config{Window: w}, false},
		{"no window", Config{Backend: newFakeBackend()}, false},
		{"ok", Config{Backend: newFakeBackend(), Window: w}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v", err)
			}
			if u != nil {
				if err := u.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Close stops the event pump, unsubscribes, and can be called again.
func TestCloseIdempotent(t *testing.T) {
	h := newHarness(t)
	h.openChat()
	if err := h.ui.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.ui.Close(); err != nil {
		t.Fatal(err)
	}
	h.fake.mu.Lock()
	n := len(h.fake.subs)
	h.fake.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}

// Config.Shown is called once, when the first channel is on screen.
func TestShownOnce(t *testing.T) {
	shown := 0
	h := newHarness(t, func(c *Config) { c.Shown = func() { shown++ } })
	c := h.openChat()
	c.open("random")
	h.settle()
	if shown != 1 {
		t.Fatalf("Shown called %d times, want 1", shown)
	}
}
