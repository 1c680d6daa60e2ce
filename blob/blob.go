// Package blob keeps attachment bytes on disk, addressed by their SHA-256:
// DATA/blobs/<hex>. A blob is written to a temp file, verified and renamed
// into place, so a present blob is always whole and correct.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrMismatch is returned when bytes do not hash to what was expected.
var ErrMismatch = errors.New("blob: content does not match its hash")

// Store is a directory of blobs.
type Store struct{ dir string }

// Open returns the store in dir (created if needed).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Store{dir: dir}, nil
}

func validHash(h string) bool {
	b, err := hex.DecodeString(h)
	return err == nil && len(b) == sha256.Size
}

// Path is where the blob hash lives (whether or not it is there).
func (s *Store) Path(hash string) string { return filepath.Join(s.dir, hash) }

// Has reports whether the blob is stored.
func (s *Store) Has(hash string) bool {
	if !validHash(hash) {
		return false
	}
	_, err := os.Stat(s.Path(hash))
	return err == nil
}

// Put copies r into the store. With want != "" the content must hash to
// it (ErrMismatch otherwise, and nothing is kept); limit bounds the size.
// progress, if set, is called with the bytes copied so far.
func (s *Store) Put(r io.Reader, want string, limit int64, progress func(int64)) (hash string, size int64, err error) {
	tmp, err := os.CreateTemp(s.dir, ".incoming-*")
	if err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	w := io.MultiWriter(tmp, h)
	buf := make([]byte, 256<<10)
	lr := &io.LimitedReader{R: r, N: limit + 1}
	for {
		n, rerr := lr.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return "", 0, fmt.Errorf("blob: %w", err)
			}
			size += int64(n)
			if progress != nil {
				progress(size)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", 0, fmt.Errorf("blob: %w", rerr)
		}
	}
	if size > limit {
		return "", 0, fmt.Errorf("blob: larger than %d bytes", limit)
	}
	hash = hex.EncodeToString(h.Sum(nil))
	if want != "" && hash != want {
		return "", 0, ErrMismatch
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path(hash)); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	return hash, size, nil
}

// Open opens a stored blob.
func (s *Store) Open(hash string) (*os.File, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("blob: bad hash %q", hash)
	}
	return os.Open(s.Path(hash))
}
