package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// TestAboutShowsRelease: Concord › About Concord says the release and the
// team version the backend reports.
func TestAboutShowsRelease(t *testing.T) {
	h := newHarness(t)
	h.fake.setStatus(Status{Team: "Ops", Release: "0.2.0", TeamVersion: 2})
	c := h.openChat()
	var about *fyne.MenuItem
	for _, it := range c.menu().Items[0].Items {
		if it.Label == "About Concord" {
			about = it
		}
	}
	if about == nil {
		t.Fatal("no About Concord in the Concord menu")
	}
	about.Action()
	h.settle()
	top := h.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("About shows no dialog")
	}
	if got := labelsIn(top); !strings.Contains(got, "Concord 0.2.0") || !strings.Contains(got, "Team version 2") {
		t.Fatalf("About says %q", got)
	}
}

// labelsIn is the text of every label in o (a dialog), one per line.
func labelsIn(o fyne.CanvasObject) string {
	var text []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch w := o.(type) {
		case *widget.Label:
			text = append(text, w.Text)
		case fyne.Widget:
			for _, child := range test.WidgetRenderer(w).Objects() {
				walk(child)
			}
		case *fyne.Container:
			for _, child := range w.Objects {
				walk(child)
			}
		}
	}
	walk(o)
	return strings.Join(text, "\n")
}
