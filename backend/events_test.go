//go:build !headless

package backend

import (
	"testing"

	"concord/app"
	"concord/storage"
)

// TestSlowSubscriberGetsStale: a subscriber whose buffer fills misses
// events, and is then owed an EventStale: it gets one as soon as it has
// room, so the window rereads instead of showing a history with a gap.
func TestSlowSubscriberGetsStale(t *testing.T) {
	b := New(Config{Dir: t.TempDir()})
	ch, stop := b.Events()
	defer stop()
	for i := range eventBuffer + 50 {
		b.publish(app.Event{Kind: app.EventMessage, Message: storage.Message{Seq: uint64(i + 1)}})
	}
	if b.drops.Load() == 0 {
		t.Fatal("nothing was dropped: the test did not fill the buffer")
	}
	for range eventBuffer { // the window catches up
		if ev := <-ch; ev.Kind != app.EventMessage {
			t.Fatalf("event %v before the buffer drained", ev.Kind)
		}
	}
	b.publish(app.Event{Kind: app.EventStatus})
	if ev := <-ch; ev.Kind != app.EventStale {
		t.Fatalf("after missing events the subscriber got %v first, want EventStale", ev.Kind)
	}
	if ev := <-ch; ev.Kind != app.EventStatus {
		t.Fatalf("then %v, want the event published", ev.Kind)
	}
	b.publish(app.Event{Kind: app.EventStatus})
	if ev := <-ch; ev.Kind != app.EventStatus {
		t.Fatalf("a subscriber that kept up got %v, want no second EventStale", ev.Kind)
	}
}
