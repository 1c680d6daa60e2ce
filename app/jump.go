package app

import (
	"context"

	"concord/storage"
)

// Jumping to a message in context (from a search result): the channel
// opens on the page of history around it, scrolled to it and with it
// highlighted. The view then pages older messages at the top as usual and
// newer ones at the bottom until it reaches the newest, from where it
// follows new messages again.

// jump opens m's channel around m.
func (c *chat) jump(m storage.Message) {
	c.enter(m.Channel)
	c.messages.target = m.ID
	c.messages.loading = true
	limit := c.u.cfg.PageSize
	// History pages backwards: ask for the page that ends half a page
	// after m (seqs are dense in a channel).
	before := m.Seq + uint64(limit/2) + 1
	var page []storage.Message
	c.u.background(func(ctx context.Context) (err error) {
		page, err = c.u.cfg.Backend.History(ctx, m.Channel, before, limit)
		return err
	}, func(err error) {
		if m.Channel != c.current || c.messages.target != m.ID {
			return // the user moved on
		}
		c.messages.loading = false
		if err != nil {
			c.u.log.Warn("history around", "channel", m.Channel, "seq", m.Seq, "err", err)
			c.open(m.Channel)
			return
		}
		c.messages.hasNewer = len(page) > 0 && page[len(page)-1].Seq == before-1
		c.messages.addOlder(page, limit)
		c.messages.scrollToTarget()
		c.u.log.Info("jumped to message", "channel", m.Channel, "seq", m.Seq, "messages", len(page))
	})
}

// loadNewer fetches the page after the newest message shown.
func (c *chat) loadNewer() {
	v := c.messages
	if c.current == "" || v.loading || !v.hasNewer || len(v.msgs) == 0 {
		return
	}
	v.loading = true
	channel, limit := c.current, c.u.cfg.PageSize
	before := v.msgs[len(v.msgs)-1].Seq + uint64(limit) + 1
	var page []storage.Message
	c.u.background(func(ctx context.Context) (err error) {
		page, err = c.u.cfg.Backend.History(ctx, channel, before, limit)
		return err
	}, func(err error) {
		if channel != c.current || !v.hasNewer {
			return
		}
		v.loading = false
		if err != nil {
			c.u.log.Warn("history newer", "channel", channel, "err", err)
			return
		}
		v.addNewer(page, before)
		c.u.log.Info("channel page", "channel", channel, "after", before-uint64(limit)-1, "messages", len(page))
	})
}

// addNewer merges a page of newer messages that ends below before; the
// oldest go when the window grows past its bound, keeping the rows the
// user looks at in place.
func (v *messageView) addNewer(page []storage.Message, before uint64) {
	v.hasNewer = len(page) > 0 && page[len(page)-1].Seq == before-1
	for _, m := range page {
		v.insert(m)
	}
	if !v.hasNewer {
		for _, m := range v.later {
			v.insert(m)
		}
		v.later = nil
	}
	v.rebuild()
	over := len(v.msgs) - v.maxTotal
	if over <= 0 {
		return
	}
	n := len(v.lines)
	v.msgs = append([]storage.Message(nil), v.msgs[over:]...)
	v.hasOlder = true
	v.rebuild()
	removed := n - len(v.lines)
	v.list.ScrollToOffset(max(v.list.GetScrollOffset()-float32(removed)*v.rowHeight(), 0))
}

// scrollToTarget puts the highlighted message in the middle of the view.
func (v *messageView) scrollToTarget() {
	for i, l := range v.lines {
		if l.id == v.target && l.kind != lineHeader {
			mid := float32(i)*v.rowHeight() - v.list.Size().Height/2
			v.list.ScrollToOffset(max(mid, 0))
			return
		}
	}
}

// keepLater keeps m, committed while the view pages towards the newest,
// for when it gets there (a page read just before m's commit lacks it).
func (v *messageView) keepLater(m storage.Message) {
	if len(v.later) < v.maxMsgs {
		v.later = append(v.later, m)
	}
}
