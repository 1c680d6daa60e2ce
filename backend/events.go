//go:build !headless

package backend

import (
	"context"
	"time"

	"concord/app"
	"concord/node"
	"concord/storage"
)

// The window's event fan-out: the pump follows the member and publishes
// app.Events to every subscriber without ever blocking on one.

// Tuning of the event fan-out.
const (
	eventBuffer     = 256         // events buffered per subscriber before drops
	statusEvery     = time.Second // how often EventStatus is pushed
	maxCatchUpBurst = 1000        // most EventMessages pushed per channel per advance
)

// subscriber is one Events channel. stale is set when an event could not
// be delivered (its buffer was full): it is owed an app.EventStale, so the
// window rereads what it shows instead of missing a message for good.
type subscriber struct {
	ch    chan app.Event
	stale bool
}

// Events implements app.Backend: each subscriber gets a buffered channel;
// the pump never blocks on it. A subscriber that misses an event gets an
// EventStale as soon as it has room again (at the latest with the next
// status tick).
func (b *Backend) Events() (<-chan app.Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan app.Event, eventBuffer)
	if b.closed {
		close(ch)
		return ch, func() {}
	}
	id := b.nextSub
	b.nextSub++
	b.subs[id] = &subscriber{ch: ch}
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if s, ok := b.subs[id]; ok {
			close(s.ch)
			delete(b.subs, id)
		}
	}
}

// publish hands ev to every subscriber that has room; one that missed
// events first gets the EventStale it is owed.
func (b *Backend) publish(ev app.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if s.stale {
			select {
			case s.ch <- app.Event{Kind: app.EventStale}:
				s.stale = false
			default:
				b.drops.Add(1)
				continue // ev is covered by the stale event still owed
			}
		}
		select {
		case s.ch <- ev:
		default:
			b.drops.Add(1)
			s.stale = true
		}
	}
}

// pump turns store changes into events: it wakes when the applied index
// advances (Store.WaitApplied, no polling), pushes each new message per
// channel, the change feed's edits (followChanges) and channel-set
// changes, and a status tick every statusEvery.
func (b *Backend) pump(ctx context.Context, n *node.Node) {
	advanced := make(chan struct{}, 1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			next := n.AppliedIndex() + 1
			if err := n.WaitApplied(ctx, next); err != nil {
				return // ctx ended or the store closed
			}
			select {
			case advanced <- struct{}{}:
			default:
			}
		}
	}()

	last := map[string]uint64{}
	if chans, err := n.ReadableChannels(); err == nil {
		for _, c := range chans {
			last[c.Name] = c.Messages
		}
	}
	lastChange, err := n.LastChange()
	if err != nil {
		b.log.Warn("read the change feed", "err", err)
	}
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			b.publish(app.Event{Kind: app.EventStatus})
		case <-advanced:
			b.catchUp(n, last)
			b.followChanges(n, &lastChange)
		}
	}
}

// catchUp publishes what changed since last (channel name → last seq seen)
// and updates it.
func (b *Backend) catchUp(n *node.Node, last map[string]uint64) {
	chans, err := n.ReadableChannels()
	if err != nil {
		b.log.Warn("read channels", "err", err)
		return
	}
	changed, stale := len(chans) != len(last), false
	for _, c := range chans {
		seen, ok := last[c.Name]
		if !ok {
			changed = true
		}
		if c.Messages <= seen {
			last[c.Name] = seen
			continue
		}
		if c.Messages-seen > maxCatchUpBurst {
			// Too many to push one by one: the window rereads instead.
			last[c.Name] = c.Messages
			stale = true
			continue
		}
		msgs, err := n.Read(c.Name, storage.Query{Limit: int(c.Messages - seen)})
		if err != nil {
			b.log.Warn("read new messages", "channel", c.Name, "err", err)
			continue
		}
		for _, m := range msgs {
			if m.Seq > seen {
				b.publish(app.Event{Kind: app.EventMessage, Message: m})
			}
		}
		last[c.Name] = c.Messages
	}
	if changed || stale {
		b.publish(app.Event{Kind: app.EventChannels})
	}
	if stale {
		b.publish(app.Event{Kind: app.EventStale})
	}
}
