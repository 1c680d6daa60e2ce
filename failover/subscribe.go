package failover

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Change is a health transition of one peer, delivered by
// [Monitor.Subscribe].
type Change struct {
	// ID is the peer.
	ID peer.ID
	// Healthy is the peer's new state.
	Healthy bool
}

// subscriber is one Subscribe call's channel.
type subscriber struct {
	ch     chan Change
	closed bool // guarded by Monitor.mu
}

// closeLocked closes the channel once. Monitor.mu must be held.
func (s *subscriber) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// Subscribe returns a channel that first receives a Change{Healthy: true}
// for every peer healthy right now (so a subscriber that starts late misses
// nothing), then every health transition from now on: a watched peer
// becoming healthy (its first successful probe, or one
// after it was reported unhealthy), a healthy peer becoming unhealthy
// (FailAfter consecutive failures) and a healthy peer leaving the watched
// set (reported as unhealthy). A peer that was never healthy and fails
// produces no Change.
//
// Delivery never blocks the monitor: the channel is buffered
// ([Config.SubscriberBuffer]) and a Change that does not fit is dropped
// and counted in [Monitor.Dropped]. A subscriber that cannot afford to miss
// one should re-read [Monitor.Health] when it falls behind.
//
// The returned function ends the subscription and closes the channel; it
// may be called more than once. [Monitor.Close] closes every channel. After
// Close, Subscribe returns an already closed channel.
func (m *Monitor) Subscribe() (<-chan Change, func()) {
	s := &subscriber{ch: make(chan Change, m.cfg.SubscriberBuffer)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.closeLocked()
		return s.ch, func() {}
	}
	m.subs[s] = struct{}{}
	for id, st := range m.peers {
		if st.Healthy {
			select {
			case s.ch <- Change{ID: id, Healthy: true}:
			default:
				m.dropped++
			}
		}
	}
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			delete(m.subs, s)
			s.closeLocked()
		})
	}
}

// Dropped returns how many Changes, summed over all subscribers, were
// dropped because a subscriber's channel was full.
func (m *Monitor) Dropped() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// publishLocked offers c to every subscriber without blocking. Monitor.mu
// must be held.
func (m *Monitor) publishLocked(c Change) {
	for s := range m.subs {
		select {
		case s.ch <- c:
		default:
			m.dropped++
		}
	}
}

// downWatcher is a one-shot callback run when a peer is found down.
type downWatcher struct{ fn func() }

// watchDown arranges for fn to run once, as soon as id is down (see
// isDown): at once if it already is. fn runs with Monitor.mu held, so it
// must not block nor call the Monitor. The returned function cancels the
// watch and reports whether it did so before fn ran.
func (m *Monitor) watchDown(id peer.ID, fn func()) (stop func() bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isDownLocked(id) {
		fn()
		return func() bool { return false }
	}
	w := &downWatcher{fn: fn}
	if m.watchers[id] == nil {
		m.watchers[id] = make(map[*downWatcher]struct{})
	}
	m.watchers[id][w] = struct{}{}
	return func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		ws, ok := m.watchers[id]
		if !ok {
			return false
		}
		if _, ok := ws[w]; !ok {
			return false
		}
		delete(ws, w)
		if len(ws) == 0 {
			delete(m.watchers, id)
		}
		return true
	}
}

// fireDownLocked runs and removes id's down watchers. Monitor.mu must be
// held.
func (m *Monitor) fireDownLocked(id peer.ID) {
	for w := range m.watchers[id] {
		w.fn()
	}
	delete(m.watchers, id)
}
