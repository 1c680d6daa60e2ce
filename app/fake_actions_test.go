package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"concord/storage"
)

// The fake's message actions refuse what the team refuses (edits of
// others' messages, deletes by non-admins) with the team's words; the
// changed message is pushed by the test (changed) like the real pump does.

var errFakeNoMessage = errors.New("invalid request: no such message")

// find returns the stored message id, to change in place; nil if unknown.
func (f *fakeBackend) find(id string) *storage.Message {
	for ch := range f.msgs {
		for i := range f.msgs[ch] {
			if f.msgs[ch][i].ID == id {
				return &f.msgs[ch][i]
			}
		}
	}
	return nil
}

// message returns a copy of stored message id as an EventChanged carries it.
func (f *fakeBackend) message(id string) storage.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := *f.find(id)
	m.Reactions = map[string][]string{}
	for e, who := range f.find(id).Reactions {
		m.Reactions[e] = slices.Clone(who)
	}
	return m
}

func (f *fakeBackend) Reply(ctx context.Context, parent, text string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.find(parent)
	if p == nil {
		return "", errFakeNoMessage
	}
	f.sent = append(f.sent, storage.Envelope{Channel: p.Channel, Text: text, ReplyTo: parent})
	if f.actionErr != nil {
		return "", f.actionErr
	}
	m := f.commitLocked(p.Channel, f.self, text)
	f.msgs[p.Channel][len(f.msgs[p.Channel])-1].ReplyTo = parent
	return m.ID, nil
}

func (f *fakeBackend) Edit(ctx context.Context, id, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.find(id)
	switch {
	case m == nil:
		return errFakeNoMessage
	case f.actionErr != nil:
		return f.actionErr
	case m.Author != f.self:
		return errors.New("invalid request: only the author can edit a message")
	}
	m.Text, m.EditedAt = text, f.now.Add(time.Hour)
	f.edits = append(f.edits, id+"="+text)
	return nil
}

func (f *fakeBackend) Delete(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.find(id)
	switch {
	case m == nil:
		return errFakeNoMessage
	case f.actionErr != nil:
		return f.actionErr
	case m.Author != f.self && !f.isAdminLocked():
		return errors.New("invalid request: only the author or an admin can delete a message")
	}
	m.Text, m.Deleted = "", true
	return nil
}

func (f *fakeBackend) React(ctx context.Context, id, emoji string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.find(id)
	switch {
	case m == nil:
		return errFakeNoMessage
	case f.actionErr != nil:
		return f.actionErr
	}
	if m.Reactions == nil {
		m.Reactions = map[string][]string{}
	}
	who := m.Reactions[emoji]
	if i := slices.Index(who, f.self); i >= 0 {
		who = slices.Delete(who, i, i+1)
	} else {
		who = append(who, f.self)
		slices.Sort(who)
	}
	if len(who) == 0 {
		delete(m.Reactions, emoji)
	} else {
		m.Reactions[emoji] = who
	}
	f.reacts = append(f.reacts, fmt.Sprintf("%s %s", id, emoji))
	return nil
}

func (f *fakeBackend) isAdminLocked() bool {
	for _, m := range f.members {
		if m.ID == f.self {
			return m.Role == storage.RoleAdmin
		}
	}
	return false
}
