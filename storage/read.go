package storage

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Query selects a page of a channel's history.
type Query struct {
	// Before excludes messages with seq >= Before; 0 means from the end.
	// Passing the Seq of the oldest message of a page fetches the page before.
	Before uint64
	// Limit is the most messages returned (the newest ones below Before);
	// 0 means all.
	Limit int
}

// Channels returns all channels sorted by name.
func (s *Store) Channels() ([]Channel, error) {
	var out []Channel
	err := s.view(func(tx *bolt.Tx) error {
		channels, err := topBucket(tx, bucketChannels)
		if err != nil {
			return err
		}
		// Names are ASCII, so bbolt's byte order is name order.
		err = channels.forEach(func(k, v []byte) error {
			var ch Channel
			if err := decodeJSON(v, &ch, "channel "+string(k)); err != nil {
				return err
			}
			out = append(out, ch)
			return nil
		})
		if err != nil {
			return err
		}
		// A damaged page can lose records without failing a checksum;
		// every channel has a message bucket, so count those too.
		n := 0
		err = tx.Bucket(bucketMessages).ForEachBucket(func([]byte) error { n++; return nil })
		if err == nil && n != len(out) {
			err = fmt.Errorf("%w: %d channel records but %d message buckets", ErrCorrupt, len(out), n)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: channels: %w", err)
	}
	return out, nil
}

// Channel returns the channel named name, or an error matching both
// ErrUnknownChannel and ErrNotFound.
func (s *Store) Channel(name string) (Channel, error) {
	var ch Channel
	err := s.view(func(tx *bolt.Tx) (err error) {
		ch, err = channelOf(tx, name)
		return err
	})
	if err != nil {
		return Channel{}, fmt.Errorf("storage: channel %q: %w", name, err)
	}
	return ch, nil
}

// channelOf reads a channel record, ErrUnknownChannel if there is none.
func channelOf(tx *bolt.Tx, name string) (Channel, error) {
	var ch Channel
	channels, err := topBucket(tx, bucketChannels)
	if err != nil {
		return ch, err
	}
	ok, err := getJSON(channels, name, &ch, "channel")
	if err == nil && !ok {
		err = ErrUnknownChannel
	}
	return ch, err
}

// messagesOf returns a channel's record and message bucket. A record
// without a bucket, or the reverse, is damage.
func messagesOf(tx *bolt.Tx, name string) (Channel, bucket, error) {
	ch, err := channelOf(tx, name)
	messages, merr := topBucket(tx, bucketMessages)
	if merr != nil {
		return ch, bucket{}, merr
	}
	b, ok := messages.sub(name)
	switch {
	case err == nil && !ok:
		return ch, b, fmt.Errorf("%w: channel %q has no message bucket", ErrCorrupt, name)
	case errors.Is(err, ErrUnknownChannel) && ok:
		return ch, b, fmt.Errorf("%w: message bucket %q has no channel record", ErrCorrupt, name)
	}
	return ch, b, err
}

// History returns the last q.Limit messages of channel with seq < q.Before,
// in ascending seq order. A missing channel is ErrUnknownChannel.
func (s *Store) History(channel string, q Query) ([]Message, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("storage: history %q: %w: negative limit %d", channel, ErrInvalidQuery, q.Limit)
	}
	var out []Message
	err := s.view(func(tx *bolt.Tx) error {
		ch, b, err := messagesOf(tx, channel)
		if err != nil {
			return err
		}
		// Walk backwards from just below Before, then flip, so that only
		// the requested page is decoded however long the channel is.
		c := b.b.Cursor()
		var k, v []byte
		if q.Before == 0 {
			k, v = c.Last()
		} else if k, v = c.Seek(seqKey(q.Before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		// Seqs run 1..ch.Messages without gaps (a deletion blanks a
		// message, it does not remove it), so the page is known exactly:
		// a record lost to a damaged page shows as a gap.
		want := ch.Messages
		if q.Before != 0 && q.Before <= want {
			want = q.Before - 1
		}
		if q.Limit > 0 {
			out = make([]Message, 0, min(q.Limit, 1024))
		}
		for ; k != nil && (q.Limit == 0 || len(out) < q.Limit); k, v = c.Prev() {
			if seq, err := decodeUint64(k, "message key"); err != nil || seq != want {
				return fmt.Errorf("%w: bucket %s: found message %s where %d was expected",
					ErrCorrupt, b.path, keyString(k), want)
			}
			m, err := openMessage(b, k, v)
			if err != nil {
				return err
			}
			if m.Reactions, err = reactionsOf(tx, m.ID); err != nil {
				return err
			}
			out = append(out, m)
			want--
		}
		if k == nil && want != 0 {
			return fmt.Errorf("%w: bucket %s: message %d missing", ErrCorrupt, b.path, want)
		}
		slices.Reverse(out)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: history %q: %w", channel, err)
	}
	return out, nil
}

// EachMessage calls fn for every message of channel in seq order, without
// holding them all in memory. It stops at fn's first error and returns it
// unwrapped. fn runs inside a read transaction: it must not call Apply,
// Restore or Close, which could wait for that transaction to end. A panic
// in fn is fn's own, not damage: it is passed on as it is.
func (s *Store) EachMessage(channel string, fn func(Message) error) error {
	var fnErr error
	var fnPanic any
	call := func(m Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				fnPanic, err = p, errors.New("callback panicked")
			}
		}()
		return fn(m)
	}
	err := s.view(func(tx *bolt.Tx) error {
		ch, b, err := messagesOf(tx, channel)
		if err != nil {
			return err
		}
		c := b.b.Cursor()
		want := uint64(1)
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if seq, err := decodeUint64(k, "message key"); err != nil || seq != want {
				return fmt.Errorf("%w: bucket %s: found message %s where %d was expected",
					ErrCorrupt, b.path, keyString(k), want)
			}
			m, err := openMessage(b, k, v)
			if err != nil {
				return err
			}
			if fnErr = call(m); fnErr != nil {
				return fnErr
			}
			want++
		}
		if want != ch.Messages+1 {
			return fmt.Errorf("%w: bucket %s: %d messages, the channel says %d", ErrCorrupt, b.path, want-1, ch.Messages)
		}
		return nil
	})
	if fnPanic != nil {
		panic(fnPanic)
	}
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("storage: messages %q: %w", channel, err)
	}
	return nil
}

// Lookup returns the message with envelope ID id, or ErrNotFound.
func (s *Store) Lookup(id string) (Message, error) {
	var m Message
	err := s.view(func(tx *bolt.Tx) error {
		ids, err := topBucket(tx, bucketIDs)
		if err != nil {
			return err
		}
		v, err := ids.get([]byte(id))
		if err != nil {
			return err
		}
		if v == nil {
			return ErrNotFound
		}
		name, seq, err := decodeIDValue(v)
		if err != nil {
			return err
		}
		messages, err := topBucket(tx, bucketMessages)
		if err != nil {
			return err
		}
		if m, err = getMessage(messages, name, seq); err != nil {
			return err
		}
		if m.ID != id {
			return fmt.Errorf("%w: id index sends %q to %s/%d, which is %q", ErrCorrupt, id, name, seq, m.ID)
		}
		m.Reactions, err = reactionsOf(tx, id)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("storage: lookup %q: %w", id, err)
	}
	return m, nil
}

// Members returns all members sorted by name (then ID, names need not be
// unique).
func (s *Store) Members() ([]Member, error) {
	var out []Member
	err := s.view(func(tx *bolt.Tx) error {
		members, err := topBucket(tx, bucketMembers)
		if err != nil {
			return err
		}
		return members.forEach(func(k, v []byte) error {
			var m Member
			if err := decodeJSON(v, &m, "member "+string(k)); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: members: %w", err)
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Member returns the member with peer ID id, or ErrNotFound.
func (s *Store) Member(id string) (Member, error) {
	var m Member
	err := s.view(func(tx *bolt.Tx) error {
		members, err := topBucket(tx, bucketMembers)
		if err != nil {
			return err
		}
		ok, err := getJSON(members, id, &m, "member")
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("storage: member %q: %w", id, err)
	}
	return m, nil
}

// getMessage reads one stored message. The caller found it through an index,
// so its absence means the file is inconsistent.
func getMessage(messages bucket, channel string, seq uint64) (Message, error) {
	b, ok := messages.sub(channel)
	if !ok {
		return Message{}, fmt.Errorf("%w: no message bucket for channel %q", ErrCorrupt, channel)
	}
	k := seqKey(seq)
	v := b.b.Get(k)
	if v == nil {
		return Message{}, fmt.Errorf("%w: message %s/%d missing", ErrCorrupt, channel, seq)
	}
	return openMessage(b, k, v)
}

// openMessage verifies and decodes a stored message read under key k, and
// checks that it says it is where it was found.
func openMessage(b bucket, k, v []byte) (Message, error) {
	body, err := b.open(k, v)
	if err != nil {
		return Message{}, err
	}
	m, err := decodeMessage(body)
	if err != nil {
		return m, fmt.Errorf("bucket %s key %s: %w", b.path, keyString(k), err)
	}
	if seq, _ := decodeUint64(k, "message key"); m.Seq != seq || b.path != "messages/"+m.Channel {
		return m, fmt.Errorf("%w: bucket %s key %s holds message %s/%d", ErrCorrupt, b.path, keyString(k), m.Channel, m.Seq)
	}
	return m, nil
}

// Invites returns every invite the team recorded, open or not.
func (s *Store) Invites() ([]Invite, error) {
	var out []Invite
	err := s.view(func(tx *bolt.Tx) error {
		invites, err := topBucket(tx, bucketInvites)
		if err != nil {
			return err
		}
		return invites.forEach(func(k, v []byte) error {
			var inv Invite
			if err := decodeJSON(v, &inv, "invite "+string(k)); err != nil {
				return err
			}
			out = append(out, inv)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: invites: %w", err)
	}
	return out, nil
}

// Invite returns the invite with this ID, or ErrNotFound.
func (s *Store) Invite(id string) (Invite, error) {
	var inv Invite
	err := s.view(func(tx *bolt.Tx) error {
		invites, err := topBucket(tx, bucketInvites)
		if err != nil {
			return err
		}
		ok, err := getJSON(invites, id, &inv, "invite")
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return Invite{}, fmt.Errorf("storage: invite %q: %w", id, err)
	}
	return inv, nil
}

// Removal returns the record of member id's removal, or ErrNotFound if it
// was never removed.
func (s *Store) Removal(id string) (Removal, error) {
	var r Removal
	err := s.view(func(tx *bolt.Tx) error {
		removed, err := topBucket(tx, bucketRemoved)
		if err != nil {
			return err
		}
		ok, err := getJSON(removed, id, &r, "removal")
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return Removal{}, fmt.Errorf("storage: removal %q: %w", id, err)
	}
	return r, nil
}
