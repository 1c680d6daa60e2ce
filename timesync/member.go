package timesync

import (
	"sync"
	"sync/atomic"
	"time"
)

// TimeStatus says which correction a member uses and how good it is.
type TimeStatus struct {
	Source     string // "ntp", "peer" or "system"
	Server     string // NTP server, or the peer's ID
	Offset     time.Duration
	RTT        time.Duration
	ErrorBound time.Duration
	LastSync   time.Time
	Err        string // the latest NTP error, if NTP is not in use
}

// Member is the clock a Concord member uses: NTP when a server answers,
// else the offset to a peer (the leader) measured over the LAN, else the
// uncorrected local clock. All three corrections are relative to the same
// Base, so switching source never jumps by more than the sources disagree.
type Member struct {
	base Clock
	ntp  *NTPClock // nil: no NTP configured
	peer atomic.Pointer[TimeStatus]
}

var _ Clock = (*Member)(nil)

// NewMember combines base with an optional NTP clock (which must use the
// same base).
func NewMember(base Clock, ntp *NTPClock) *Member {
	if base == nil {
		base = System{}
	}
	return &Member{base: base, ntp: ntp}
}

// Base is the uncorrected clock (what peer exchanges measure against).
func (m *Member) Base() Clock { return m.base }

func (m *Member) ntpSynced() bool {
	if m.ntp == nil {
		return false
	}
	st := m.ntp.Status()
	return st.Source == "ntp" && !st.Stale
}

// Now is the corrected time.
func (m *Member) Now() time.Time { return m.base.Now().Add(m.Offset()) }

// Offset is the correction in use.
func (m *Member) Offset() time.Duration {
	if m.ntpSynced() {
		return m.ntp.Offset()
	}
	if p := m.peer.Load(); p != nil {
		return p.Offset
	}
	return 0
}

// Source names the correction in use.
func (m *Member) Source() string { return m.Status().Source }

// HasNTP reports whether NTP currently corrects this clock, which makes it a
// good reference for peers.
func (m *Member) HasNTP() bool { return m.ntpSynced() }

// SetPeer records an offset measured against a peer.
func (m *Member) SetPeer(peer string, offset, rtt, bound time.Duration) {
	m.peer.Store(&TimeStatus{Source: "peer", Server: peer, Offset: offset, RTT: rtt, ErrorBound: bound,
		LastSync: m.base.Now().Add(offset)})
}

// Status describes the correction in use.
func (m *Member) Status() TimeStatus {
	var ntpErr string
	if m.ntp != nil {
		st := m.ntp.Status()
		if m.ntpSynced() {
			return TimeStatus{Source: "ntp", Server: st.Server, Offset: st.Offset, RTT: st.RTT,
				ErrorBound: st.ErrorBound, LastSync: st.LastSync}
		}
		ntpErr = st.Err
	}
	if p := m.peer.Load(); p != nil {
		s := *p
		s.Err = ntpErr
		return s
	}
	return TimeStatus{Source: "system", Err: ntpErr}
}

// HLC stamps commit times on the leader: its clock's time, but never at or
// below the previous stamp, so commit times strictly increase even when the
// clock steps back (an NTP correction, a new leader whose clock is behind).
type HLC struct {
	Clock Clock
	mu    sync.Mutex
	last  time.Time
}

// Stamp returns the next commit time.
func (h *HLC) Stamp() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.Clock.Now().UTC()
	if !t.After(h.last) {
		t = h.last.Add(time.Microsecond)
	}
	h.last = t
	return t
}
