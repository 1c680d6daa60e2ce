package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"concord/storage"
)

// fakeBackend is an in-memory Backend. Tests drive it with push and the
// fields below; it is safe for concurrent use.
type fakeBackend struct {
	mu        sync.Mutex
	self      string
	channels  []storage.Channel
	msgs      map[string][]storage.Message
	members   []Member
	removed   []string
	removeErr error
	status    Status
	offline   bool              // Send returns ErrQueued
	sendErr   error             // Send fails with it
	refuse    bool              // Send stores the message, then the team refuses it
	refused   map[string]string // ID -> text of refused messages, for Retry
	retryErr  error             // Retry fails with it
	retried   []string
	actionErr error    // Reply, Edit, Delete and React fail with it
	edits     []string // "id=text" of each edit
	reacts    []string // "id emoji" of each reaction toggled
	pinned    []string // IDs pinned, in pin order
	settings  Settings
	joinCode  string // the only valid invite code
	lanTeams  []LANTeam
	browsing  chan struct{} // closed when BrowseTeams returns
	created   struct{ team, name string }
	joined    struct{ code, name string }
	sent      []storage.Envelope
	subs      []chan Event
	seq       int
	now       time.Time
	blobs     map[string][]byte // files' bytes by hash
	remote    map[string]bool   // hashes OpenFile says are not fetched yet
	opened    []string          // hashes OpenFile served
	fetched   []string          // message IDs Fetch was called for
	fetchErr  error             // Fetch fails with it
	openGate  chan struct{}     // if set, OpenFile waits until it is closed
}

var _ Backend = (*fakeBackend)(nil)

func newFakeBackend() *fakeBackend {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	return &fakeBackend{
		self:     "12D3KooWself00",
		channels: []storage.Channel{{Name: "general", CreatedAt: now}, {Name: "random", CreatedAt: now}},
		msgs:     map[string][]storage.Message{},
		refused:  map[string]string{},
		settings: Settings{Name: "ann", NTP: []string{"ntp.example:123"}, DataDir: "/home/ann/.concord"},
		members: []Member{
			{ID: "12D3KooWself00", Name: "ann", Role: storage.RoleAdmin, Voter: true, Online: true, Leader: true},
			{ID: "12D3KooWbob000", Name: "bob", Role: storage.RoleMember, Voter: true, Online: true},
		},
		status: Status{Self: "12D3KooWself00", Team: "Ann's team", Role: "leader", Leader: "12D3KooWself00",
			Connected: 1, Total: 1, ClockSource: "ntp", ClockOffset: 12 * time.Millisecond},
		joinCode: "good-code",
		now:      now,
	}
}

// commit stores a message as committed and returns it (without pushing it).
func (f *fakeBackend) commit(channel, author, text string) storage.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commitLocked(channel, author, text)
}

func (f *fakeBackend) commitLocked(channel, author, text string) storage.Message {
	f.seq++
	m := storage.Message{
		Envelope:    storage.Envelope{ID: fmt.Sprintf("msg-%d", f.seq), Author: author, Channel: channel, Text: text, SentAt: f.now},
		Seq:         uint64(len(f.msgs[channel]) + 1),
		CommittedAt: f.now.Add(time.Duration(f.seq) * time.Second),
	}
	f.msgs[channel] = append(f.msgs[channel], m)
	return m
}

// push sends ev to every subscriber.
func (f *fakeBackend) push(ev Event) {
	f.mu.Lock()
	subs := append([]chan Event(nil), f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		s <- ev
	}
}

func (f *fakeBackend) Send(ctx context.Context, channel, text string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, storage.Envelope{Channel: channel, Text: text})
	if f.sendErr != nil {
		return "", f.sendErr
	}
	if f.refuse {
		f.seq++
		id := fmt.Sprintf("refused-%d", f.seq)
		f.refused[id] = text
		return id, errors.New("refused: no such channel")
	}
	if f.offline {
		f.seq++
		f.status.Queued++
		return fmt.Sprintf("queued-%d", f.seq), fmt.Errorf("%w (%v)", ErrQueued, context.DeadlineExceeded)
	}
	m := f.commitLocked(channel, f.self, text)
	return m.ID, nil
}

func (f *fakeBackend) History(ctx context.Context, channel string, before uint64, limit int) ([]storage.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.msgs[channel]
	end := len(all)
	if before > 0 && int(before)-1 < end {
		end = int(before) - 1
	}
	start := max(end-limit, 0)
	return append([]storage.Message(nil), all[start:end]...), nil
}

func (f *fakeBackend) Channels(ctx context.Context) ([]storage.Channel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storage.Channel(nil), f.channels...), nil
}

func (f *fakeBackend) CreateChannel(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.channels {
		if c.Name == name {
			return nil
		}
	}
	f.channels = append(f.channels, storage.Channel{Name: name, CreatedAt: f.now})
	return nil
}

func (f *fakeBackend) Pins(ctx context.Context, channel string) ([]storage.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Message
	for _, m := range f.msgs[channel] {
		if slices.Contains(f.pinned, m.ID) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fakeBackend) Pin(ctx context.Context, id string, unpin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pinned = slices.DeleteFunc(f.pinned, func(p string) bool { return p == id })
	if !unpin {
		f.pinned = append(f.pinned, id)
	}
	return nil
}

func (f *fakeBackend) Members(ctx context.Context) ([]Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Member(nil), f.members...), nil
}

func (f *fakeBackend) RemoveMember(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	if f.removeErr != nil {
		return f.removeErr
	}
	f.members = slices.DeleteFunc(f.members, func(m Member) bool { return m.ID == id })
	return nil
}

func (f *fakeBackend) setMembers(ms ...Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = ms
}

func (f *fakeBackend) Status(ctx context.Context) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}

func (f *fakeBackend) setStatus(st Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
}

func (f *fakeBackend) Invite(ctx context.Context) (string, error) { return f.joinCode, nil }

func (f *fakeBackend) Events() (<-chan Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan Event, 16)
	f.subs = append(f.subs, ch)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, s := range f.subs {
				if s == ch {
					f.subs = append(f.subs[:i], f.subs[i+1:]...)
					break
				}
			}
			close(ch)
		})
	}
}

func (f *fakeBackend) CreateTeam(ctx context.Context, team, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created.team, f.created.name = team, name
	return nil
}

// BrowseTeams reports lanTeams (if any) once, then waits for ctx.
func (f *fakeBackend) BrowseTeams(ctx context.Context, found func([]LANTeam)) error {
	f.mu.Lock()
	teams, done := slices.Clone(f.lanTeams), f.browsing
	f.mu.Unlock()
	if done != nil {
		defer close(done)
	}
	if len(teams) > 0 {
		found(teams)
	}
	<-ctx.Done()
	return nil
}

func (f *fakeBackend) JoinTeam(ctx context.Context, code, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code != f.joinCode {
		return fmt.Errorf("join: %w: %w", ErrBadInvite, errors.New("token signature does not verify"))
	}
	f.joined.code, f.joined.name = code, name
	return nil
}

// Retry commits a refused message (known by its ID) unless retryErr is set.
func (f *fakeBackend) Retry(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, id)
	if f.retryErr != nil {
		return f.retryErr
	}
	text, ok := f.refused[id]
	if !ok {
		return errors.New("no such message")
	}
	delete(f.refused, id)
	m := f.commitLocked("general", f.self, text)
	m.ID = id
	f.msgs["general"][len(f.msgs["general"])-1] = m
	return nil
}

func (f *fakeBackend) Settings(ctx context.Context) (Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.settings
	s.NTP = append([]string(nil), s.NTP...)
	return s, nil
}

// SaveSettings refuses an NTP server with a port that is not a number, like a real
// backend refuses one it cannot parse; a new name renames self.
func (f *fakeBackend) SaveSettings(ctx context.Context, s Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, srv := range s.NTP {
		if strings.Contains(srv, ":x") {
			return fmt.Errorf("NTP server %q: bad port", srv)
		}
	}
	f.settings.Name, f.settings.NTP = s.Name, s.NTP
	for i := range f.members {
		if f.members[i].ID == f.self {
			f.members[i].Name = s.Name
		}
	}
	return nil
}
