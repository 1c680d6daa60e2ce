package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"concord/storage"
)

// Reply sends text as an answer to message parent, in parent's channel.
// Like Send it waits for the commit (wait) and leaves the message queued
// when the team has no quorum.
func (n *Node) Reply(ctx context.Context, parent, text string, wait bool) (string, error) {
	p, err := n.message(ctx, parent)
	if err != nil {
		return "", err
	}
	return n.send(ctx, storage.Envelope{Channel: p.Channel, Text: text, ReplyTo: p.ID}, wait)
}

// message finds a committed message by ID. A message just committed
// through another member may not have reached this one yet: it waits a
// little (lookupWait) for entries to arrive before saying it does not exist.
func (n *Node) message(ctx context.Context, id string) (storage.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupWait)
	defer cancel()
	for {
		m, err := n.store.Lookup(id)
		if !errors.Is(err, storage.ErrNotFound) {
			return m, err
		}
		if err := n.replica.WaitApplied(ctx, n.store.AppliedIndex()+1); err != nil {
			return m, fmt.Errorf("%w: no message has the ID %q", ErrInvalid, id)
		}
	}
}

// lookupWait bounds how long a lookup waits for a message to arrive.
const lookupWait = 2 * time.Second

// chatOpRequest is the body of /v1/edit, /v1/delete and /v1/react.
type chatOpRequest struct {
	ID        string `json:"id"`
	Text      string `json:"text,omitempty"`
	Emoji     string `json:"emoji,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"` // how long to wait for the commit (default 10 s)
}

// chatOp answers like a send: 200 once committed, 202 with the op's ID
// while it waits in the outbox.
func (cs *controlServer) chatOp(w http.ResponseWriter, r *http.Request) {
	var req chatOpRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	ctx, cancel := waitContext(r, req.TimeoutMS)
	defer cancel()
	out := map[string]any{"id": req.ID}
	var op string
	var err error
	switch r.URL.Path {
	case "/v1/edit":
		op, err = cs.node.EditOp(ctx, req.ID, req.Text)
	case "/v1/delete":
		op, err = cs.node.DeleteOp(ctx, req.ID)
	default:
		var on bool
		op, on, err = cs.node.ReactOp(ctx, req.ID, req.Emoji)
		out["on"] = on
	}
	out["op"] = op
	cs.answerWait(w, op, err, out)
}

// historyRow is one line of `concord history --json`.
type historyRow struct {
	ID          string              `json:"id"`
	Channel     string              `json:"channel"`
	Seq         uint64              `json:"seq"`
	Author      string              `json:"author"`
	AuthorName  string              `json:"author_name"`
	Text        string              `json:"text"`
	SentAt      string              `json:"sent_at"`
	CommittedAt string              `json:"committed_at"`
	ReplyTo     string              `json:"reply_to,omitempty"`
	EditedAt    string              `json:"edited_at,omitempty"`
	Deleted     bool                `json:"deleted,omitempty"`
	Reactions   map[string][]string `json:"reactions,omitempty"` // emoji → member names
	Mentions    []string            `json:"mentions,omitempty"`  // IDs of the members it @mentions
	File        *storage.FileRef    `json:"file,omitempty"`      // the attachment: concord fetch ID
}

func newHistoryRow(m storage.Message, names map[string]string) historyRow {
	row := historyRow{ID: m.ID, Channel: m.Channel, Seq: m.Seq, Author: m.Author, AuthorName: names[m.Author],
		Text: m.Text, SentAt: m.SentAt.UTC().Format(time.RFC3339Nano), CommittedAt: m.CommittedAt.UTC().Format(time.RFC3339Nano),
		ReplyTo: m.ReplyTo, Deleted: m.Deleted, Mentions: mentions(m.Text, names), File: m.File}
	if !m.EditedAt.IsZero() {
		row.EditedAt = m.EditedAt.UTC().Format(time.RFC3339Nano)
	}
	for emoji, ids := range m.Reactions {
		if row.Reactions == nil {
			row.Reactions = map[string][]string{}
		}
		for _, id := range ids {
			row.Reactions[emoji] = append(row.Reactions[emoji], orDefault(names[id], id))
		}
	}
	return row
}

// dmRequest is the body of /v1/dm.
type dmRequest struct {
	To   []string `json:"to"`
	Text string   `json:"text"`
}

func (cs *controlServer) dm(w http.ResponseWriter, r *http.Request) {
	var req dmRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	id, err := cs.node.DM(ctx, req.To, req.Text)
	cs.answerSend(w, id, err)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// mentions returns the IDs of the members whose name follows an @ in text
// (case-insensitive, the name ending at a non-letter), sorted.
func mentions(text string, names map[string]string) []string {
	if !strings.Contains(text, "@") {
		return nil
	}
	lower := strings.ToLower(text)
	var out []string
	for id, name := range names {
		at := "@" + strings.ToLower(name)
		for i := strings.Index(lower, at); i >= 0; {
			end := i + len(at)
			before, _ := utf8.DecodeLastRuneInString(lower[:i])
			after, _ := utf8.DecodeRuneInString(lower[end:])
			if !isWordRune(before) && (end == len(lower) || !isWordRune(after)) {
				out = append(out, id)
				break
			}
			next := strings.Index(lower[end:], at)
			if next < 0 {
				break
			}
			i = end + next
		}
	}
	slices.Sort(out)
	return out
}
