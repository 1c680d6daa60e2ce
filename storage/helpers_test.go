package storage

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

// t0 is an arbitrary leader stamp; tests move it around to exercise the
// commit-time rule.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testConfig(t *testing.T, path string) Config {
	t.Helper()
	return Config{
		Path:   path,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// mustOpen opens a fresh store in a temp dir, closed at the end of the test.
func mustOpen(t *testing.T) *Store {
	t.Helper()
	return mustOpenAt(t, filepath.Join(t.TempDir(), "state.db"))
}

// mustOpenAt opens the store at path, closed at the end of the test.
func mustOpenAt(t *testing.T, path string) *Store {
	t.Helper()
	return mustOpenCfg(t, testConfig(t, path))
}

// mustOpenUnchecked opens path with no full check at open: damage must be
// caught by the reads.
func mustOpenUnchecked(t *testing.T, path string) *Store {
	t.Helper()
	cfg := testConfig(t, path)
	cfg.CheckOnOpenMax = -1
	return mustOpenCfg(t, cfg)
}

func mustOpenCfg(t *testing.T, cfg Config) *Store {
	t.Helper()
	path := cfg.Path
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// mustApply applies entries and fails the test on a storage error.
func mustApply(t *testing.T, s *Store, entries ...Entry) [][]Result {
	t.Helper()
	res, err := s.Apply(entries)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res) != len(entries) {
		t.Fatalf("Apply returned %d result slots for %d entries", len(res), len(entries))
	}
	return res
}

func entry(index uint64, at time.Time, ops ...Op) Entry {
	return Entry{Index: index, CommittedAt: at, Ops: ops}
}

func msg(id, channel, text string) Op {
	return Op{Kind: OpMessage, Message: &Envelope{
		ID: id, Author: "12D3KooWauthor", Channel: channel, Text: text, SentAt: t0,
	}}
}

func mkChan(name string) Op { return Op{Kind: OpCreateChannel, Channel: name} }

func addMember(id, name, role string) Op {
	return Op{Kind: OpAddMember, By: id, Member: &Member{ID: id, Name: name, Role: role}}
}

func inviteOp(by, id, key string, expires time.Time) Op {
	return Op{Kind: OpInvite, By: by, Invite: &Invite{ID: id, Key: key, Expires: expires}}
}

// redeem admits member id (named name) with invite token, proposed by by.
func redeem(by, token, id, name string) Op {
	return Op{Kind: OpAddMember, By: by, Token: token, Member: &Member{ID: id, Name: name}}
}

// mustHistory returns the whole history of channel.
func mustHistory(t *testing.T, s *Store, channel string) []Message {
	t.Helper()
	h, err := s.History(channel, Query{})
	if err != nil {
		t.Fatalf("History(%q): %v", channel, err)
	}
	return h
}

func ids(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func seqs(ms []Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}
