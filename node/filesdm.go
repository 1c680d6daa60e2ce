package node

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/nacl/secretbox"

	"concord/storage"
)

// Files in private conversations: the file is encrypted with a fresh
// random key (nacl/secretbox) and only the ciphertext becomes a blob, so
// every member can store, serve and verify it by hash like any other
// blob. The log's FileRef describes the ciphertext (a neutral name and
// type, its size and hash); the real name, type, size and the key travel
// in the message text, which is sealed to the participants like any
// private message. Only a participant can open the text, hence the file.

// sealedFilePrefix starts the (sealed) text of a private file message.
const sealedFilePrefix = "concord-file:"

// sealedFileName names the ciphertext in the log.
const sealedFileName = "sealed"

// maxSealedPlain is the largest file a private conversation takes: its
// ciphertext (nonce and tag added) must fit the attachment limit.
const maxSealedPlain = storage.MaxFileBytes - 24 - secretbox.Overhead

// sealedFile is what a participant reads in a private file message.
type sealedFile struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
	Key  string `json:"key"` // base64 of the 32-byte secretbox key
}

// sealFile encrypts the file at path and stores the ciphertext as a blob;
// it returns the log's reference to it and the text to seal.
func (n *Node) sealFile(path, name, typ string, progress func(done, total int64)) (*storage.FileRef, string, error) {
	plain, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(plain) > maxSealedPlain {
		return nil, "", fmt.Errorf("%w: a file in a private conversation is at most %d bytes", ErrInvalid, maxSealedPlain)
	}
	var key [32]byte
	var nonce [24]byte
	if _, err := io.ReadFull(rand.Reader, key[:]); err != nil {
		return nil, "", err
	}
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return nil, "", err
	}
	sealed := secretbox.Seal(nonce[:], plain, &nonce, &key)
	total := int64(len(sealed))
	hash, size, err := n.blobs.Put(bytes.NewReader(sealed), "", storage.MaxFileBytes, func(d int64) { tell(progress, d, total) })
	if err != nil {
		return nil, "", err
	}
	text, err := json.Marshal(sealedFile{Name: name, Type: typ, Size: int64(len(plain)), Key: base64.StdEncoding.EncodeToString(key[:])})
	if err != nil {
		return nil, "", err
	}
	ref := &storage.FileRef{Name: sealedFileName, Size: size, Type: "application/octet-stream", Hash: hash}
	return ref, sealedFilePrefix + string(text), nil
}

// parseSealedFile reads the opened text of a private file message; ok is
// false for any other text.
func parseSealedFile(text string) (sealedFile, bool) {
	var f sealedFile
	rest, found := strings.CutPrefix(text, sealedFilePrefix)
	if !found || json.Unmarshal([]byte(rest), &f) != nil {
		return f, false
	}
	return f, true
}

// showSealedFile makes an opened private file message read like a public
// one: its text is the file's name and its FileRef shows the real name,
// type and size (the hash stays the ciphertext's, which is what moves).
func showSealedFile(m *storage.Message) {
	f, ok := parseSealedFile(m.Text)
	if m.File == nil || !ok {
		return
	}
	ref := *m.File
	ref.Name, ref.Type, ref.Size = f.Name, f.Type, f.Size
	m.Text, m.File = f.Name, &ref
}

// openFile writes the plaintext of the private file of message m (its
// ciphertext blob fetched already) to w, for a participant.
func (n *Node) openFile(m storage.Message, w io.Writer) error {
	f, ok := parseSealedFile(n.open(m))
	if !ok {
		return errors.New("cannot read the file's key")
	}
	kb, err := base64.StdEncoding.DecodeString(f.Key)
	if err != nil || len(kb) != 32 {
		return errors.New("damaged file key")
	}
	var key [32]byte
	copy(key[:], kb)
	sealed, err := os.ReadFile(n.blobs.Path(m.File.Hash))
	if err != nil {
		return err
	}
	if len(sealed) < 24 {
		return errors.New("damaged private file")
	}
	var nonce [24]byte
	copy(nonce[:], sealed[:24])
	plain, ok := secretbox.Open(nil, sealed[24:], &nonce, &key)
	if !ok {
		return errors.New("damaged private file: it does not decrypt")
	}
	_, err = w.Write(plain)
	return err
}
