package timesync

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeBehaviour is how a fakeNTP server answers.
type fakeBehaviour struct {
	Offset    time.Duration // server clock = real time + Offset
	Leap      uint8         // leap indicator (3 = unsynchronised)
	Stratum   uint8         // 0 = kiss-of-death when RefID is a code
	RefID     string        // 4 ASCII bytes: kiss code or reference name
	RootDelay time.Duration
	RootDisp  time.Duration
	Drop      bool   // never answer
	Garbage   []byte // when set, answer with these bytes instead
}

// goodServer answers like a healthy stratum-2 server.
func goodServer(offset time.Duration) fakeBehaviour {
	return fakeBehaviour{Offset: offset, Stratum: 2, RefID: "GPS\x00",
		RootDelay: time.Millisecond, RootDisp: time.Millisecond}
}

// fakeNTP is an in-test NTP server on 127.0.0.1 answering NTPv4 client
// packets according to a behaviour that tests may change at any time.
type fakeNTP struct {
	conn *net.UDPConn
	wg   sync.WaitGroup

	mu      sync.Mutex
	b       fakeBehaviour
	queries int
}

func newFakeNTP(t *testing.T, b fakeBehaviour) *fakeNTP {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &fakeNTP{conn: conn, b: b}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = conn.Close()
		s.wg.Wait()
	})
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *fakeNTP) Addr() string { return s.conn.LocalAddr().String() }

// Set changes how the server answers from now on.
func (s *fakeNTP) Set(b fakeBehaviour) {
	s.mu.Lock()
	s.b = b
	s.mu.Unlock()
}

// Queries is how many client packets the server has received.
func (s *fakeNTP) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func (s *fakeNTP) serve() {
	defer s.wg.Done()
	buf := make([]byte, 1024)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		recv := time.Now()
		s.mu.Lock()
		b := s.b
		s.queries++
		s.mu.Unlock()
		if n < 48 || buf[0]&0x7 != 3 || b.Drop {
			continue
		}
		var reply []byte
		if b.Garbage != nil {
			reply = b.Garbage
		} else {
			reply = b.reply(buf[:48], recv.Add(b.Offset))
		}
		_, _ = s.conn.WriteToUDP(reply, from)
	}
}

// reply builds the 48-byte server answer to req, received at recv (server
// clock).
func (b fakeBehaviour) reply(req []byte, recv time.Time) []byte {
	r := make([]byte, 48)
	vn := (req[0] >> 3) & 0x7
	r[0] = b.Leap<<6 | vn<<3 | 4
	r[1] = b.Stratum
	r[2] = req[2]      // poll
	r[3] = uint8(0xEC) // precision 2^-20 s
	binary.BigEndian.PutUint32(r[4:], ntpShort(b.RootDelay))
	binary.BigEndian.PutUint32(r[8:], ntpShort(b.RootDisp))
	copy(r[12:16], b.RefID)
	binary.BigEndian.PutUint64(r[16:], ntpTime(recv.Add(-time.Minute))) // reference time
	copy(r[24:32], req[40:48])                                          // origin = client's transmit
	binary.BigEndian.PutUint64(r[32:], ntpTime(recv))
	binary.BigEndian.PutUint64(r[40:], ntpTime(time.Now().Add(b.Offset)))
	return r
}

// ntpEpoch is the NTP era 0 origin.
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// ntpTime encodes t as an NTP 32.32 fixed-point timestamp; seconds wrap
// modulo 2^32 as NTP eras do (the shift drops the era).
func ntpTime(t time.Time) uint64 {
	d := t.Sub(ntpEpoch) // Duration spans 1900..2192
	sec := uint64(d / time.Second)
	frac := (uint64(d%time.Second) << 32) / uint64(time.Second)
	return sec<<32 | frac
}

// ntpShort encodes d as an NTP 16.16 fixed-point short.
func ntpShort(d time.Duration) uint32 {
	sec := uint64(d / time.Second)
	frac := (uint64(d%time.Second) << 16) / uint64(time.Second)
	return uint32(sec<<16 | frac)
}
