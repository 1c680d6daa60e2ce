package timesync

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Peer time: on a LAN without an NTP server, a member estimates its offset
// to another member (the leader) with the same four-timestamp exchange NTP
// uses, over a stream the caller provides (a libp2p stream in Concord):
//
//	request  = T1 (8 bytes, big-endian Unix ns, the asker's clock)
//	response = T1 echoed, T2 (receive), T3 (send) on the answerer's clock,
//	           then one flags byte (bit 0: the answerer's clock is NTP-corrected)
//
// The asker reads T4 when the response arrives; Offset4 does the rest.

// ErrBadPeerTime is returned for a response that does not match the request.
var ErrBadPeerTime = errors.New("timesync: bad peer time response")

// PeerQuery performs one exchange on rw: local is the asker's uncorrected
// clock, so the sample's offset is the correction local needs to match the
// peer. It also reports whether the peer's clock is NTP-corrected (a better
// reference than one that is not). The caller bounds it with a deadline on
// the stream.
func PeerQuery(ctx context.Context, rw io.ReadWriter, local Clock, peer string) (Sample, bool, error) {
	if err := ctx.Err(); err != nil {
		return Sample{}, false, err
	}
	t1 := local.Now()
	var req [8]byte
	binary.BigEndian.PutUint64(req[:], uint64(t1.UnixNano()))
	if _, err := rw.Write(req[:]); err != nil {
		return Sample{}, false, fmt.Errorf("peer time %s: %w", peer, err)
	}
	var resp [25]byte
	if _, err := io.ReadFull(rw, resp[:]); err != nil {
		return Sample{}, false, fmt.Errorf("peer time %s: %w", peer, err)
	}
	t4 := local.Now()
	if binary.BigEndian.Uint64(resp[:8]) != uint64(t1.UnixNano()) {
		return Sample{}, false, fmt.Errorf("%w from %s: origin mismatch", ErrBadPeerTime, peer)
	}
	t2 := time.Unix(0, int64(binary.BigEndian.Uint64(resp[8:16])))
	t3 := time.Unix(0, int64(binary.BigEndian.Uint64(resp[16:24])))
	if t3.Before(t2) {
		return Sample{}, false, fmt.Errorf("%w from %s: sent before received", ErrBadPeerTime, peer)
	}
	off, rtt := Offset4(t1, t2, t3, t4)
	return Sample{Server: peer, Offset: off, RTT: rtt, Time: t4}, resp[24]&1 == 1, nil
}

// PeerAnswer answers exchanges on rw with the answerer's (corrected) clock
// until the asker closes the stream; hasNTP says whether that clock is
// NTP-corrected.
func PeerAnswer(rw io.ReadWriter, clock Clock, hasNTP func() bool) error {
	for {
		var req [8]byte
		if _, err := io.ReadFull(rw, req[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		t2 := clock.Now()
		var resp [25]byte
		copy(resp[:8], req[:])
		binary.BigEndian.PutUint64(resp[8:16], uint64(t2.UnixNano()))
		if hasNTP != nil && hasNTP() {
			resp[24] = 1
		}
		binary.BigEndian.PutUint64(resp[16:24], uint64(clock.Now().UnixNano()))
		if _, err := rw.Write(resp[:]); err != nil {
			return err
		}
	}
}

// CombinePeer turns several exchanges with one peer into an estimate, the
// same way NTP samples are combined (best half by RTT, median offset).
func CombinePeer(samples []Sample) (offset, rtt, bound time.Duration, err error) {
	if len(samples) == 0 {
		return 0, 0, 0, errors.New("timesync: no peer samples")
	}
	e := combine(samples)
	return e.offset, e.rtt, e.bound, nil
}
