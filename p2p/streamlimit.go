package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The resource manager's limits are lifted for LAN teams (see [New]), so
// nothing below the handlers bounds how many streams a connected peer
// opens. A member whose app was replaced by hostile code could park a
// goroutine (and, for some protocols, a file or a Raft config change) per
// stream, thousands at a time. Each of Concord's protocols is therefore
// served behind a per-peer bound a little above what an honest member ever
// uses; a stream over it is reset at once, which the opener sees as
// [network.ErrReset].

// PeerStreams counts the streams of one protocol each peer has open and
// refuses those over Max. The zero value (with Max set) is ready to use.
type PeerStreams struct {
	Max int

	mu   sync.Mutex
	open map[peer.ID]int
}

// Acquire takes a slot for p; false when p holds Max already.
func (l *PeerStreams) Acquire(p peer.ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil {
		l.open = map[peer.ID]int{}
	}
	if l.open[p] >= l.Max {
		return false
	}
	l.open[p]++
	return true
}

// Release gives back a slot Acquire took.
func (l *PeerStreams) Release(p peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[p]--; l.open[p] <= 0 {
		delete(l.open, p)
	}
}

// Open reports how many streams p holds.
func (l *PeerStreams) Open(p peer.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[p]
}

// Bounded serves at most max streams per peer at once with handler (a
// slot is held while handler runs) and resets the others at once.
func Bounded(max int, handler network.StreamHandler) network.StreamHandler {
	l := &PeerStreams{Max: max}
	return func(s network.Stream) {
		from, ok := l.admit(s)
		if !ok {
			return
		}
		defer l.Release(from)
		handler(s)
	}
}

// admit takes a slot for the stream's peer, or resets the stream and tells
// the host's stream-rate limit that the peer went past the bound.
func (l *PeerStreams) admit(s network.Stream) (peer.ID, bool) {
	from := s.Conn().RemotePeer()
	if !l.Acquire(from) {
		noteRefused(s.Conn().LocalPeer(), from)
		_ = s.Reset()
		return from, false
	}
	return from, true
}

// BoundedOpen is [Bounded] for a handler that hands the stream on and
// returns (a listener's accept queue: Raft's transport): the slot is held
// until the stream is closed or reset, by either side's doing as seen
// here (the holder's Close or Reset after a failed read).
func BoundedOpen(max int, handler network.StreamHandler) network.StreamHandler {
	l := &PeerStreams{Max: max}
	return func(s network.Stream) {
		from, ok := l.admit(s)
		if !ok {
			return
		}
		handler(&slotStream{Stream: s, release: sync.OnceFunc(func() { l.Release(from) })})
	}
}

// slotStream gives its slot back when it is closed or reset.
type slotStream struct {
	network.Stream
	release func()
}

func (s *slotStream) Close() error {
	defer s.release()
	return s.Stream.Close()
}

func (s *slotStream) Reset() error {
	defer s.release()
	return s.Stream.Reset()
}

func (s *slotStream) ResetWithError(code network.StreamErrorCode) error {
	defer s.release()
	return s.Stream.ResetWithError(code)
}
