package storage

import (
	"cmp"
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
		// Names are ASCII, so bbolt's byte order is name order.
		return tx.Bucket(bucketChannels).ForEach(func(k, v []byte) error {
			var ch Channel
			if err := decodeJSON(v, &ch, "channel "+string(k)); err != nil {
				return err
			}
			out = append(out, ch)
			return nil
		})
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
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketChannels).Get([]byte(name))
		if v == nil {
			return ErrUnknownChannel
		}
		return decodeJSON(v, &ch, "channel "+name)
	})
	if err != nil {
		return Channel{}, fmt.Errorf("storage: channel %q: %w", name, err)
	}
	return ch, nil
}

// History returns the last q.Limit messages of channel with seq < q.Before,
// in ascending seq order. A missing channel is ErrUnknownChannel.
func (s *Store) History(channel string, q Query) ([]Message, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("storage: history %q: %w: negative limit %d", channel, ErrInvalidQuery, q.Limit)
	}
	var out []Message
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMessages).Bucket([]byte(channel))
		if b == nil {
			return ErrUnknownChannel
		}
		// Walk backwards from just below Before, then flip, so that only
		// the requested page is decoded however long the channel is.
		c := b.Cursor()
		var k, v []byte
		if q.Before == 0 {
			k, v = c.Last()
		} else if k, v = c.Seek(seqKey(q.Before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if q.Limit > 0 {
			out = make([]Message, 0, min(q.Limit, 1024))
		}
		for ; k != nil && (q.Limit == 0 || len(out) < q.Limit); k, v = c.Prev() {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			m.Reactions = reactionsOf(tx, m.ID)
			out = append(out, m)
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
// Restore or Close, which could wait for that transaction to end.
func (s *Store) EachMessage(channel string, fn func(Message) error) error {
	var fnErr error
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMessages).Bucket([]byte(channel))
		if b == nil {
			return ErrUnknownChannel
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			if fnErr = fn(m); fnErr != nil {
				return fnErr
			}
		}
		return nil
	})
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
		v := tx.Bucket(bucketIDs).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		name, seq, err := decodeIDValue(v)
		if err != nil {
			return err
		}
		m, err = getMessage(tx.Bucket(bucketMessages), name, seq)
		m.Reactions = reactionsOf(tx, id)
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
		return tx.Bucket(bucketMembers).ForEach(func(k, v []byte) error {
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
		v := tx.Bucket(bucketMembers).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return decodeJSON(v, &m, "member "+id)
	})
	if err != nil {
		return Member{}, fmt.Errorf("storage: member %q: %w", id, err)
	}
	return m, nil
}

// getMessage reads one stored message. The caller found it through an index,
// so its absence means the file is inconsistent.
func getMessage(messages *bolt.Bucket, channel string, seq uint64) (Message, error) {
	var m Message
	b := messages.Bucket([]byte(channel))
	if b == nil {
		return m, fmt.Errorf("%w: no message bucket for channel %q", ErrCorrupt, channel)
	}
	v := b.Get(seqKey(seq))
	if v == nil {
		return m, fmt.Errorf("%w: message %s/%d missing", ErrCorrupt, channel, seq)
	}
	return decodeMessage(v)
}

// Invites returns every invite the team recorded, open or not.
func (s *Store) Invites() ([]Invite, error) {
	var out []Invite
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInvites).ForEach(func(k, v []byte) error {
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
		ok, err := getJSON(tx.Bucket(bucketInvites), id, &inv, "invite")
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
		ok, err := getJSON(tx.Bucket(bucketRemoved), id, &r, "removal")
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
