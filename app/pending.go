package app

import "time"

// pending is one of the user's messages not (known to be) committed yet.
type pending struct {
	id      string // known once Send returns
	text    string
	replyTo string // the message it answers ("": none)
	sentAt  time.Time
	state   string
}

// pendingSet keeps the user's uncommitted messages per channel, so a queued
// message stays visible when the user switches channels and comes back.
// It lives for the session: after a restart the status bar's queue count
// is all that is left of them until they commit.
type pendingSet map[string][]*pending

func (s pendingSet) add(channel string, p *pending) { s[channel] = append(s[channel], p) }

// remove drops p from channel.
func (s pendingSet) remove(channel string, p *pending) {
	list := s[channel]
	for i, q := range list {
		if q == p {
			s[channel] = append(list[:i:i], list[i+1:]...)
			return
		}
	}
}

// committed drops the pending message with this ID, now committed; it
// reports whether there was one.
func (s pendingSet) committed(channel, id string) bool {
	for _, p := range s[channel] {
		if p.id != "" && p.id == id {
			s.remove(channel, p)
			return true
		}
	}
	return false
}
