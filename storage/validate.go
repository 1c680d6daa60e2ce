package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on replicated values. They are part of the replicated state machine:
// changing them changes which ops are refused, so every member must agree.
const (
	// MaxTextBytes is the largest message text, in bytes.
	MaxTextBytes = 32 << 10
	// MaxIDBytes is the largest envelope ID, in bytes.
	MaxIDBytes = 64
	// MaxChannelName is the longest channel name, in bytes (= characters,
	// since names are ASCII).
	MaxChannelName = 64
	// maxPeerIDBytes bounds author and member IDs; libp2p peer IDs are ~52
	// chars, the slack is for other encodings.
	maxPeerIDBytes = 128
	// maxMemberNameBytes bounds a member's display name.
	maxMemberNameBytes = 256
)

// ValidChannelName reports whether name can name a channel: 1–64 characters
// of lowercase letters, digits, '-' and '_', starting with a letter or digit.
// Names are kept this strict because they are used as bucket keys and typed
// in URLs and commands.
func ValidChannelName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidChannelName)
	}
	if len(name) > MaxChannelName {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidChannelName, MaxChannelName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("%w %q: only a-z, 0-9, '-' and '_' allowed, starting with a letter or digit",
				ErrInvalidChannelName, name)
		}
	}
	return nil
}

// ValidateEnvelope reports whether e may be stored: a non-empty ID of at most
// MaxIDBytes, a non-empty author, a valid channel name and a non-empty,
// valid UTF-8 text of at most MaxTextBytes. Apply refuses an invalid envelope
// with Result.Err set to this error's text, so the text must be deterministic.
func ValidateEnvelope(e Envelope) error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: empty id", ErrInvalidEnvelope)
	case len(e.ID) > MaxIDBytes:
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalidEnvelope, MaxIDBytes)
	case e.Author == "":
		return fmt.Errorf("%w: empty author", ErrInvalidEnvelope)
	case len(e.Author) > maxPeerIDBytes:
		return fmt.Errorf("%w: author longer than %d bytes", ErrInvalidEnvelope, maxPeerIDBytes)
	case e.Text == "":
		return fmt.Errorf("%w: empty text", ErrInvalidEnvelope)
	case len(e.Text) > MaxTextBytes:
		return fmt.Errorf("%w: text longer than %d bytes", ErrInvalidEnvelope, MaxTextBytes)
	case !utf8.ValidString(e.Text):
		return fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidEnvelope)
	case !utf8.ValidString(e.ID) || !utf8.ValidString(e.Author):
		// The binary encoding refuses such strings, so they must never
		// reach the log or the outbox.
		return fmt.Errorf("%w: id or author is not valid UTF-8", ErrInvalidEnvelope)
	}
	if err := ValidChannelName(e.Channel); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEnvelope, err)
	}
	if f := e.File; f != nil {
		switch {
		case f.Name == "" || len(f.Name) > 255 || !utf8.ValidString(f.Name) || strings.ContainsAny(f.Name, "/\\\x00"):
			return fmt.Errorf("%w: bad file name", ErrInvalidEnvelope)
		case f.Size < 0 || f.Size > MaxFileBytes:
			return fmt.Errorf("%w: a file is at most %d MB", ErrInvalidEnvelope, MaxFileBytes>>20)
		case len(f.Hash) != 64 || strings.Trim(f.Hash, "0123456789abcdef") != "":
			return fmt.Errorf("%w: bad file hash", ErrInvalidEnvelope)
		case len(f.Type) > 128 || !utf8.ValidString(f.Type):
			return fmt.Errorf("%w: bad file type", ErrInvalidEnvelope)
		}
	}
	return nil
}

// ValidateAction checks the Action of an envelope (nil is fine): a kind
// the outbox carries, a target ID, no text for a deletion, a valid emoji
// for a reaction, and nothing of a message's own (a reply link, a file).
func ValidateAction(e Envelope) error {
	a := e.Action
	switch {
	case a == nil:
		return nil
	case a.Kind != OpEdit && a.Kind != OpDelete && a.Kind != OpReact:
		return fmt.Errorf("%w: action kind %d", ErrInvalidEnvelope, a.Kind)
	case a.Target == "" || len(a.Target) > MaxIDBytes || !utf8.ValidString(a.Target):
		return fmt.Errorf("%w: bad action target", ErrInvalidEnvelope)
	case e.ReplyTo != "" || e.File != nil:
		return fmt.Errorf("%w: an action has no reply link or file", ErrInvalidEnvelope)
	case a.Kind == OpDelete && e.Text != "":
		return fmt.Errorf("%w: a deletion has no text", ErrInvalidEnvelope)
	case a.Kind == OpReact && !validReaction(e.Text):
		return fmt.Errorf("%w: %s", ErrInvalidEnvelope, refBadEmoji)
	case a.Remove && a.Kind != OpReact:
		return fmt.Errorf("%w: only a reaction can be removed", ErrInvalidEnvelope)
	}
	return nil
}

// MaxFileBytes is the largest attachment.
const MaxFileBytes = 100 << 20

// validateMember checks an OpAddMember payload. An empty role is accepted
// (Apply stores it as RoleMember) so that callers need not spell the default.
func validateMember(m *Member) error {
	switch {
	case m == nil:
		return fmt.Errorf("%w: missing", ErrInvalidMember)
	case m.ID == "":
		return fmt.Errorf("%w: empty id", ErrInvalidMember)
	case len(m.ID) > maxPeerIDBytes:
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalidMember, maxPeerIDBytes)
	case len(m.Name) > maxMemberNameBytes:
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalidMember, maxMemberNameBytes)
	case !utf8.ValidString(m.Name):
		return fmt.Errorf("%w: name is not valid UTF-8", ErrInvalidMember)
	case m.Role != "" && m.Role != RoleAdmin && m.Role != RoleMember:
		return fmt.Errorf("%w: unknown role %q", ErrInvalidMember, m.Role)
	}
	return nil
}
