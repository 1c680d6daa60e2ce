package timesync

import (
	"net"
	"testing"
	"time"
)

func TestPeerExchangeMeasuresSkew(t *testing.T) {
	tests := []struct {
		name   string
		skew   time.Duration // asker's clock error
		hasNTP bool
	}{
		{"ahead 5s, answerer without NTP", 5 * time.Second, false},
		{"behind 10m, answerer with NTP", -10 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			done := make(chan error, 1)
			go func() {
				done <- PeerAnswer(b, System{}, func() bool { return tt.hasNTP })
				b.Close()
			}()
			var samples []Sample
			var ntp bool
			for range 5 {
				s, n, err := PeerQuery(t.Context(), a, Skewed{Base: System{}, Skew: tt.skew}, "peer")
				if err != nil {
					t.Fatal(err)
				}
				samples, ntp = append(samples, s), n
			}
			a.Close()
			if err := <-done; err != nil {
				t.Fatalf("answer: %v", err)
			}
			off, _, _, err := CombinePeer(samples)
			if err != nil {
				t.Fatal(err)
			}
			if e := off + tt.skew; e.Abs() > 2*time.Millisecond {
				t.Fatalf("offset %v does not compensate skew %v (error %v)", off, tt.skew, e)
			}
			if ntp != tt.hasNTP {
				t.Fatalf("hasNTP = %v, want %v", ntp, tt.hasNTP)
			}
		})
	}
}

func TestPeerQueryRejectsAForeignAnswer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		buf := make([]byte, 8)
		_, _ = b.Read(buf)
		_, _ = b.Write(make([]byte, 25)) // wrong origin
		b.Close()
	}()
	if _, _, err := PeerQuery(t.Context(), a, System{}, "peer"); err == nil {
		t.Fatal("accepted an answer to another request")
	}
}

func TestHLCNeverGoesBack(t *testing.T) {
	base := time.Now()
	clock := &steppedClock{times: []time.Time{base, base.Add(-time.Minute), base.Add(time.Millisecond)}}
	h := &HLC{Clock: clock}
	a, b, c := h.Stamp(), h.Stamp(), h.Stamp()
	if !b.After(a) || !c.After(b) {
		t.Fatalf("stamps not strictly increasing: %v %v %v", a, b, c)
	}
}

type steppedClock struct {
	times []time.Time
	i     int
}

func (s *steppedClock) Now() time.Time {
	t := s.times[min(s.i, len(s.times)-1)]
	s.i++
	return t
}
func (s *steppedClock) Source() string        { return "test" }
func (s *steppedClock) Offset() time.Duration { return 0 }
