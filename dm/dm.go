package dm

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// KeyFile is the member's X25519 private key in its data dir.
const KeyFile = "box.key"

// Prefix starts every sealed text, so a reader can tell ciphertext from a
// plain message.
const Prefix = "box1:"

// maxRecipients bounds a conversation, and what a decoder will read.
const maxRecipients = 64

// Errors of this package.
var (
	ErrNotForYou = errors.New("dm: this message is not addressed to you")
	ErrDamaged   = errors.New("dm: damaged private message")
)

// Key is a member's X25519 key pair.
type Key struct {
	Public, Private [32]byte
}

// PublicString is the public half as published in the member list.
func (k *Key) PublicString() string { return base64.RawStdEncoding.EncodeToString(k.Public[:]) }

// ParsePublic decodes a published public key.
func ParsePublic(s string) (*[32]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("dm: bad public key %q", s)
	}
	var k [32]byte
	copy(k[:], b)
	return &k, nil
}

// LoadKey reads dir/box.key, creating it (mode 0600) on first use.
func LoadKey(dir string) (*Key, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("dm: %s is damaged (%d bytes)", path, len(b))
		}
		var k Key
		copy(k.Private[:], b)
		pub, err := publicOf(&k.Private)
		if err != nil {
			return nil, err
		}
		k.Public = *pub
		return &k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dm: %w", err)
	}
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dm: %w", err)
	}
	if err := os.WriteFile(path, priv[:], 0o600); err != nil {
		return nil, fmt.Errorf("dm: %w", err)
	}
	return &Key{Public: *pub, Private: *priv}, nil
}

// publicOf derives the public key of an X25519 private key.
func publicOf(priv *[32]byte) (*[32]byte, error) {
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return nil, fmt.Errorf("dm: %w", err)
	}
	var pub [32]byte
	copy(pub[:], k.PublicKey().Bytes())
	return &pub, nil
}

// Channel is the channel name of the conversation between ids: derived
// from the sorted set, so every member names it alike ("dm-" + 20 hex).
func Channel(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	s = slices.Compact(s)
	sum := sha256.Sum256([]byte(strings.Join(s, ",")))
	return "dm-" + hex.EncodeToString(sum[:10])
}

// Seal encrypts text from the holder of from to every recipient (peer ID
// → public key; include the sender to read one's own messages back).
func Seal(text string, from *Key, recipients map[string]*[32]byte) (string, error) {
	if len(recipients) == 0 || len(recipients) > maxRecipients {
		return "", fmt.Errorf("dm: %d recipients (1 to %d)", len(recipients), maxRecipients)
	}
	var nonce [24]byte
	var k [32]byte
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return "", err
	}
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return "", err
	}
	b := append([]byte{1}, nonce[:]...)
	b = binary.AppendUvarint(b, uint64(len(recipients)))
	ids := make([]string, 0, len(recipients))
	for id := range recipients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		// The message key is new for every message, so one nonce serves
		// the secretbox and every per-recipient box (distinct keys).
		b = box.Seal(b, k[:], &nonce, recipients[id], &from.Private)
	}
	b = secretbox.Seal(b, []byte(text), &nonce, &k)
	return Prefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// Open decrypts a sealed text for member self (holding key), sent by the
// holder of the public key sender.
func Open(sealed, self string, key *Key, sender *[32]byte) (string, error) {
	if !strings.HasPrefix(sealed, Prefix) {
		return "", ErrDamaged
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, Prefix))
	if err != nil || len(b) < 25 || b[0] != 1 {
		return "", ErrDamaged
	}
	var nonce [24]byte
	copy(nonce[:], b[1:25])
	b = b[25:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n == 0 || n > maxRecipients {
		return "", ErrDamaged
	}
	b = b[w:]
	var mine []byte
	for range n {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > 128 || uint64(len(b)-w) < l+32+box.Overhead {
			return "", ErrDamaged
		}
		id := string(b[w : w+int(l)])
		b = b[w+int(l):]
		if id == self {
			mine = b[:32+box.Overhead]
		}
		b = b[32+box.Overhead:]
	}
	if mine == nil {
		return "", ErrNotForYou
	}
	kb, ok := box.Open(nil, mine, &nonce, sender, &key.Private)
	if !ok || len(kb) != 32 {
		return "", ErrDamaged
	}
	var k [32]byte
	copy(k[:], kb)
	text, ok := secretbox.Open(nil, b, &nonce, &k)
	if !ok {
		return "", ErrDamaged
	}
	return string(text), nil
}
