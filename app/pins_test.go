package app

import (
	"strings"
	"testing"
)

// TestPinFromMenu: "Pin to channel" pins a message; the header then says
// how many are pinned and lists them; "Unpin" takes it off again.
func TestPinFromMenu(t *testing.T) {
	h := newHarness(t)
	h.fake.commit("general", bob, "the deploy checklist")
	h.fake.commit("general", bob, "lunch?")
	c := h.openChat()
	h.settle()
	if c.pinsBtn.Visible() {
		t.Fatal("the pins button shows with nothing pinned")
	}
	menuOf(t, c, "checklist")
	choose(t, c, "Pin to channel")
	h.settle()
	if !c.pinsBtn.Visible() || c.pinsBtn.Text != "📌 1" || len(c.pins) != 1 || !strings.Contains(c.pins[0].Text, "checklist") {
		t.Fatalf("after pinning: button %q (shown %v), pins %+v", c.pinsBtn.Text, c.pinsBtn.Visible(), c.pins)
	}
	if got := strings.Join(menuOf(t, c, "checklist"), ","); !strings.Contains(got, "Unpin") {
		t.Fatalf("menu of a pinned message: %s", got)
	}
	choose(t, c, "Unpin")
	h.settle()
	if c.pinsBtn.Visible() || len(h.fake.pinned) != 0 {
		t.Fatalf("after unpinning: button shown %v, pinned %v", c.pinsBtn.Visible(), h.fake.pinned)
	}
}
