package timesync

import "time"

// Offset4 computes the clock offset and round-trip delay of one NTP-style
// exchange from its four timestamps: t1 when the request left the client and
// t4 when the reply came back (both on the client's clock), t2 when the
// server received the request and t3 when it sent the reply (both on the
// server's clock).
//
// offset = ((t2-t1)+(t3-t4))/2 is what to add to the client's clock to read
// the server's; rtt = (t4-t1)-(t3-t2) is the network round trip, excluding
// the server's processing time, and is never negative (a negative value can
// only come from clock granularity and is reported as 0). The offset is exact
// when the two legs of the path take equal time; otherwise its error is at
// most rtt/2.
func Offset4(t1, t2, t3, t4 time.Time) (offset, rtt time.Duration) {
	offset = (t2.Sub(t1) + t3.Sub(t4)) / 2
	rtt = max(t4.Sub(t1)-t3.Sub(t2), 0)
	return offset, rtt
}
