package node

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"concord/dm"
	"concord/storage"
)

// Private conversations: a channel whose Members are its participants
// (named by dm.Channel, so any participant finds it); their texts are
// sealed to the participants' published box keys before they leave this
// member, and opened only here, on read.

// DM sends text privately to the members in to (IDs or unique names),
// creating the conversation on first use, and returns the message ID once
// committed.
func (n *Node) DM(ctx context.Context, to []string, text string) (string, error) {
	name, err := n.Conversation(ctx, to)
	if err != nil {
		return "", err
	}
	return n.send(ctx, storage.Envelope{Channel: name, Text: text}, true)
}

// Conversation returns the channel of this member's private conversation
// with the members in to (IDs or unique names), creating it on first use.
func (n *Node) Conversation(ctx context.Context, to []string) (string, error) {
	self := n.ID().String()
	ids := []string{self}
	for _, who := range to {
		m, err := n.resolveMember(ctx, who)
		if err != nil {
			return "", err
		}
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) < 2 {
		return "", fmt.Errorf("%w: a private message needs someone else", ErrInvalid)
	}
	name := dm.Channel(ids)
	if _, err := n.store.Channel(name); err != nil {
		op := storage.Op{Kind: storage.OpCreateChannel, By: self, Channel: name, Participants: ids}
		if _, err := n.commit(ctx, op); err != nil && !errors.Is(err, ErrInvalid) {
			return "", err
		}
	}
	return name, nil
}

// private returns the participants of channel, nil for a public channel
// (callers must not modify the slice). A channel's participants are fixed
// when it is created and channels are never deleted, so the answer is kept:
// every send asks, and reading it from the store cost 4 % of the CPU of a
// burst of sends (docs/benchmarks.md).
func (n *Node) private(channel string) ([]string, error) {
	if members, ok := n.channels.Load(channel); ok {
		return members.([]string), nil
	}
	ch, err := n.store.Channel(channel)
	if err != nil {
		return nil, err
	}
	n.channels.Store(channel, ch.Members)
	return ch.Members, nil
}

// seal encrypts text for channel's participants when it is private.
func (n *Node) seal(channel, text string) (string, error) {
	members, err := n.private(channel)
	if err != nil || members == nil {
		return text, err
	}
	self := n.ID().String()
	if !slices.Contains(members, self) {
		return "", fmt.Errorf("%w: you are not part of this private conversation", ErrInvalid)
	}
	to := make(map[string]*[32]byte, len(members))
	for _, id := range members {
		m, err := n.store.Member(id)
		if err != nil {
			return "", fmt.Errorf("%w: a participant left the team", ErrInvalid)
		}
		pub, err := dm.ParsePublic(m.BoxKey)
		if err != nil {
			return "", fmt.Errorf("%w: %s has no key for private messages", ErrInvalid, m.Name)
		}
		to[id] = pub
	}
	sealed, err := dm.Seal(text, n.boxKey, to)
	if err == nil && len(sealed) > storage.MaxTextBytes {
		err = fmt.Errorf("%w: too long for a private message (%d bytes sealed, at most %d)", ErrInvalid, len(sealed), storage.MaxTextBytes)
	}
	return sealed, err
}

// readable reads a page of channel for this member: a private
// conversation is refused to non-participants and opened for participants.
func (n *Node) readable(channel string, q storage.Query) ([]storage.Message, error) {
	members, err := n.private(channel)
	if err != nil {
		return nil, err
	}
	self := n.ID().String()
	if members != nil && !slices.Contains(members, self) {
		return nil, fmt.Errorf("%w: a private conversation you are not part of", ErrInvalid)
	}
	msgs, err := n.store.History(channel, q)
	if err != nil || members == nil {
		return msgs, err
	}
	for i, m := range msgs {
		if m.Deleted {
			continue
		}
		n.reveal(&msgs[i])
	}
	return msgs, nil
}

// reveal opens a private message for a participant: its text, and the
// name, type and size of a file it carries.
func (n *Node) reveal(m *storage.Message) {
	m.Text = n.open(*m)
	showSealedFile(m)
}

// cannotRead starts the text shown for a private message that does not open.
const cannotRead = "[cannot read: "

// open decrypts a private message, or says why it cannot.
func (n *Node) open(m storage.Message) string {
	author, err := n.store.Member(m.Author)
	var pub *[32]byte
	if err == nil {
		pub, err = dm.ParsePublic(author.BoxKey)
	}
	if err != nil {
		return cannotRead + "the author's key is unknown]"
	}
	text, err := dm.Open(m.Text, n.ID().String(), n.boxKey, pub)
	if err != nil {
		return cannotRead + err.Error() + "]"
	}
	return text
}

// visible keeps the channels this member may read.
func (n *Node) visible(chans []storage.Channel) []storage.Channel {
	self := n.ID().String()
	return slices.DeleteFunc(chans, func(c storage.Channel) bool {
		return c.Members != nil && !slices.Contains(c.Members, self)
	})
}
