package node

import (
	"context"
	"errors"
	"fmt"
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

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Mentions returns the IDs of the members whose name follows an @ in text
// (case-insensitive, the name ending at a non-letter), sorted.
func Mentions(text string, names map[string]string) []string {
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
