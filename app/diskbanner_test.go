package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// shownLabel finds a visible label whose text starts with prefix in the
// window's content, walking only visible objects.
func shownLabel(o fyne.CanvasObject, prefix string) *widget.Label {
	if !o.Visible() {
		return nil
	}
	switch v := o.(type) {
	case *widget.Label:
		if strings.HasPrefix(v.Text, prefix) {
			return v
		}
	case *fyne.Container:
		for _, c := range v.Objects {
			if l := shownLabel(c, prefix); l != nil {
				return l
			}
		}
	}
	return nil
}

// TestDiskBanner: the window shows a banner while the disk is low or full,
// with the sentence a refused send gives, and hides it once the disk is ok.
func TestDiskBanner(t *testing.T) {
	h := newHarness(t)
	h.openChat()
	if l := shownLabel(h.win.Content(), "⚠ Your disk"); l != nil {
		t.Fatalf("banner %q on an ok disk", l.Text)
	}
	steps := []struct {
		name   string
		disk   DiskState
		free   uint64
		prefix string // "" : no banner
		imp    widget.Importance
	}{
		{"low", DiskLow, 150 << 20, "⚠ Your disk is almost full (150 MB free)", widget.WarningImportance},
		{"full", DiskFull, 3 << 20, "⚠ Your disk is full: free space to send; messages from others keep arriving once there is room.", widget.DangerImportance},
		{"ok again", DiskOK, 5 << 30, "", 0},
		{"full again", DiskFull, 0, "⚠ Your disk is full", widget.DangerImportance},
		{"unknown (old backend)", "", 0, "", 0},
	}
	for _, s := range steps {
		st := h.fake.status
		st.Disk, st.DiskFree = s.disk, s.free
		h.fake.setStatus(st)
		h.push(Event{Kind: EventStatus})
		l := shownLabel(h.win.Content(), "⚠ Your disk")
		switch {
		case s.prefix == "" && l != nil:
			t.Fatalf("%s: banner %q shown", s.name, l.Text)
		case s.prefix == "":
		case l == nil:
			t.Fatalf("%s: no banner", s.name)
		case !strings.HasPrefix(l.Text, s.prefix) || l.Importance != s.imp:
			t.Fatalf("%s: banner %q (importance %d), want %q (importance %d)", s.name, l.Text, l.Importance, s.prefix, s.imp)
		}
	}
}

func TestMegabytes(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 MB"}, {150 << 20, "150 MB"}, {(10 << 30) - 1, "10239 MB"}, {12 << 30, "12 GB"},
	}
	for _, tt := range tests {
		if got := megabytes(tt.n); got != tt.want {
			t.Errorf("megabytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestUpgradeBanner: a member blocked on an upgrade says so across the top
// of the window, before the disk's state.
func TestUpgradeBanner(t *testing.T) {
	b := newDiskBanner()
	b.set(Status{Disk: DiskLow, Upgrade: "this team now needs Concord 0.3.0 or later; you have 0.2.0"})
	if !b.content.Visible() || !strings.Contains(b.label.Text, "needs Concord 0.3.0") || b.label.Importance != widget.DangerImportance {
		t.Fatalf("banner %q (shown %v)", b.label.Text, b.content.Visible())
	}
	b.set(Status{})
	if b.content.Visible() {
		t.Fatal("the banner stays once the member is upgraded")
	}
}
