package p2p

import (
	"concord/internal/durable"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFile is the name, inside the data directory, of the file holding
// the member's private key (libp2p protobuf encoding, mode 0600).
const IdentityFile = "identity.key"

// LoadIdentity returns the member's private key, stored in
// dataDir/[IdentityFile]. When the file does not exist a new Ed25519 key is
// generated and written atomically (temp file, fsync, link/rename), creating
// dataDir if needed. When the file exists but cannot be decoded, LoadIdentity
// returns an error wrapping [ErrCorruptIdentity] that names the path; the
// file is left untouched, since replacing it would change the member's
// identity.
func LoadIdentity(dataDir string) (crypto.PrivKey, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("%w: empty data directory", ErrInvalidConfig)
	}
	path := filepath.Join(dataDir, IdentityFile)
	data, err := os.ReadFile(path)
	if err == nil {
		return decodeIdentity(path, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("p2p: reading identity: %w", err)
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("p2p: creating data directory: %w", err)
	}
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("p2p: generating identity: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("p2p: encoding identity: %w", err)
	}
	err = durable.CreateFile(path, raw, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: that key is the identity.
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("p2p: reading identity: %w", err)
		}
		return decodeIdentity(path, data)
	}
	if err != nil {
		return nil, err
	}
	return priv, nil
}

func decodeIdentity(path string, data []byte) (crypto.PrivKey, error) {
	priv, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptIdentity, path, err)
	}
	return priv, nil
}
