package storage

import (
	"bytes"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Edits, deletions and reactions refer to a message by ID. Like membership
// ops they are refused deterministically (Result.Err), identically on
// every member; the texts are replicated and must not change.
const (
	refNoSuchMessage = "no such message"
	refNotAuthor     = "only the author can edit a message"
	refNotYours      = "only the author or an admin can delete a message"
	refIsDeleted     = "the message was deleted"
	refBadEmoji      = "a reaction is one emoji or a short word (up to 32 bytes, no spaces)"
)

// maxReactionBytes bounds a reaction's text.
const maxReactionBytes = 32

// target finds the stored message with this ID: its bucket, key and value.
func (a *applier) target(id string) (bucket, []byte, *Message, error) {
	v, err := a.ids.get([]byte(id))
	if err != nil || v == nil {
		return bucket{}, nil, nil, err
	}
	name, seq, err := decodeIDValue(v)
	if err != nil {
		return bucket{}, nil, nil, err
	}
	b, ok := a.messages.sub(name)
	if !ok {
		return bucket{}, nil, nil, fmt.Errorf("%w: channel %q has no message bucket", ErrCorrupt, name)
	}
	m, err := getMessage(a.messages, name, seq)
	if err != nil {
		return bucket{}, nil, nil, err
	}
	return b, seqKey(seq), &m, nil
}

func (a *applier) putMessage(b bucket, key []byte, m *Message) error {
	return b.put(key, AppendMessage(make([]byte, 0, messageSize(m)+sumSize), m))
}

// edit replaces a message's text; only its author may, and not once it is
// deleted. The message keeps its place; EditedAt is the edit's commit time.
func (a *applier) edit(e Entry, op Op) (Result, error) {
	b, key, m, err := a.target(op.Target)
	switch {
	case err != nil:
		return Result{}, err
	case m == nil:
		return Result{Err: refNoSuchMessage}, nil
	case m.Author != op.By:
		return Result{Err: refNotAuthor}, nil
	case m.Deleted:
		return Result{Err: refIsDeleted}, nil
	}
	edited := m.Envelope
	edited.Text = op.Text
	if err := ValidateEnvelope(edited); err != nil {
		return Result{Err: err.Error()}, nil
	}
	m.Text, m.EditedAt = op.Text, e.CommittedAt.UTC()
	if err := a.putMessage(b, key, m); err != nil {
		return Result{}, err
	}
	return Result{Channel: m.Channel, Seq: m.Seq}, a.changed(m)
}

// delete blanks a message (its author or an admin). The message keeps its
// place so the channel's order and seqs stay; reads show it as deleted.
func (a *applier) delete(op Op) (Result, error) {
	b, key, m, err := a.target(op.Target)
	if err != nil || m == nil {
		return Result{Err: refNoSuchMessage}, err
	}
	if m.Author != op.By {
		if r, err := a.role(op.By); err != nil || r != RoleAdmin {
			return Result{Err: refNotYours}, err
		}
	}
	if m.Deleted {
		return Result{Channel: m.Channel, Seq: m.Seq}, nil // idempotent
	}
	m.Text, m.Deleted = "", true
	if err := a.putMessage(b, key, m); err != nil {
		return Result{}, err
	}
	if err := a.clearReactions(op.Target); err != nil {
		return Result{}, err
	}
	return Result{Channel: m.Channel, Seq: m.Seq}, a.changed(m)
}

func validReaction(s string) bool {
	if s == "" || len(s) > maxReactionBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == 0 {
			return false
		}
	}
	return true
}

func reactionKey(id, emoji, member string) []byte {
	return fmt.Appendf(nil, "%s\x00%s\x00%s", id, emoji, member)
}

// react records (or with Remove takes back) a member's reaction. Setting
// the state rather than toggling keeps a retried op harmless.
func (a *applier) react(op Op) (Result, error) {
	if r, err := a.role(op.By); err != nil || r == "" {
		return Result{Err: refNotMember}, err
	}
	if !validReaction(op.Text) {
		return Result{Err: refBadEmoji}, nil
	}
	_, _, m, err := a.target(op.Target)
	switch {
	case err != nil:
		return Result{}, err
	case m == nil:
		return Result{Err: refNoSuchMessage}, nil
	case m.Deleted:
		return Result{Err: refIsDeleted}, nil
	}
	k := reactionKey(op.Target, op.Text, op.By)
	if op.Remove {
		err = a.reacts.delete(k)
	} else {
		err = a.reacts.put(k, nil)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Channel: m.Channel, Seq: m.Seq}, a.changed(m)
}

func (a *applier) clearReactions(id string) error {
	prefix := append([]byte(id), 0)
	c := a.reacts.b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := a.reacts.delete(k); err != nil {
			return err
		}
	}
	return nil
}

// reactionsOf reads a message's reactions in a read transaction: emoji →
// sorted member IDs, nil when there are none.
func reactionsOf(tx *bolt.Tx, id string) (map[string][]string, error) {
	reacts, err := topBucket(tx, bucketReactions)
	if err != nil {
		return nil, err
	}
	prefix := append([]byte(id), 0)
	var out map[string][]string
	c := reacts.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		// The value is empty but for its checksum, which covers the key.
		if _, err := reacts.open(k, v); err != nil {
			return nil, err
		}
		rest := k[len(prefix):]
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		emoji := string(rest[:i])
		out[emoji] = append(out[emoji], string(rest[i+1:]))
	}
	for _, ms := range out {
		slices.Sort(ms)
	}
	return out, nil
}

func pinKey(channel string, seq uint64) []byte {
	return append(append([]byte(channel), 0), seqKey(seq)...)
}

// pin pins (or with Remove unpins) message Target in its channel.
func (a *applier) pin(op Op) (Result, error) {
	if r, err := a.role(op.By); err != nil || r == "" {
		return Result{Err: refNotMember}, err
	}
	_, _, m, err := a.target(op.Target)
	switch {
	case err != nil:
		return Result{}, err
	case m == nil:
		return Result{Err: refNoSuchMessage}, nil
	}
	b, err := a.tx.CreateBucketIfNotExists(bucketPins)
	if err != nil {
		return Result{}, err
	}
	pins, k := newBucket(b, string(bucketPins)), pinKey(m.Channel, m.Seq)
	if op.Remove {
		err = pins.delete(k)
	} else {
		err = pins.put(k, []byte(m.ID))
	}
	return Result{Channel: m.Channel, Seq: m.Seq}, err
}

// Pins lists the messages pinned in channel, in channel order.
func (s *Store) Pins(channel string) ([]Message, error) {
	var ids []string
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPins)
		if b == nil {
			return nil
		}
		pins, prefix := newBucket(b, string(bucketPins)), append([]byte(channel), 0)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			id, err := pins.open(k, v)
			if err != nil {
				return err
			}
			ids = append(ids, string(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(ids))
	for _, id := range ids {
		m, err := s.Lookup(id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
