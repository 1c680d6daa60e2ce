package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"concord/storage"
)

// The fake's search, private conversations and files.

// Search matches every word of query as a case-insensitive substring, in
// public channels, newest first.
func (f *fakeBackend) Search(ctx context.Context, query string, limit int) ([]storage.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	words := strings.Fields(strings.ToLower(query))
	if len(words) == 0 {
		return nil, errors.New("empty query")
	}
	var out []storage.Message
	for _, ch := range f.channels {
		if ch.Members != nil {
			continue
		}
		for _, m := range f.msgs[ch.Name] {
			text := strings.ToLower(m.Text)
			if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(text, strings.TrimSuffix(w, "*")) }) {
				out = append(out, m)
			}
		}
	}
	slices.SortFunc(out, func(a, b storage.Message) int { return b.CommittedAt.Compare(a.CommittedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// StartConversation names the conversation "dm-" and its sorted
// participants, and creates it once.
func (f *fakeBackend) StartConversation(ctx context.Context, with []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := slices.Compact(slices.Sorted(slices.Values(append([]string{f.self}, with...))))
	if len(ids) < 2 {
		return "", errors.New("a private message needs someone else")
	}
	name := "dm-" + strings.Join(ids, "-")
	for _, c := range f.channels {
		if c.Name == name {
			return name, nil
		}
	}
	f.channels = append(f.channels, storage.Channel{Name: name, CreatedAt: f.now, Members: ids})
	return name, nil
}

// Attach reads the file in 4 KiB steps, keeps its bytes and commits a
// message carrying it.
func (f *fakeBackend) Attach(ctx context.Context, channel, path string, progress func(done, total int64)) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for done := 0; done < len(b); done += 4096 {
		if progress != nil {
			progress(int64(done), int64(len(b)))
		}
	}
	if progress != nil {
		progress(int64(len(b)), int64(len(b)))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := f.putBlobLocked(filepath.Base(path), b)
	m := f.commitLocked(channel, f.self, ref.Name)
	m.File = &ref
	f.msgs[channel][len(f.msgs[channel])-1] = m
	return m.ID, nil
}

// putBlob keeps b as a file named name and returns its reference.
func (f *fakeBackend) putBlob(name string, b []byte) storage.FileRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.putBlobLocked(name, b)
}

func (f *fakeBackend) putBlobLocked(name string, b []byte) storage.FileRef {
	sum := sha256.Sum256(b)
	ref := storage.FileRef{Name: name, Size: int64(len(b)), Type: "application/octet-stream", Hash: hex.EncodeToString(sum[:])}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png":
		ref.Type = "image/png"
	case ".jpg", ".jpeg":
		ref.Type = "image/jpeg"
	case ".gif":
		ref.Type = "image/gif"
	}
	if f.blobs == nil {
		f.blobs = map[string][]byte{}
	}
	f.blobs[ref.Hash] = b
	return ref
}

// Fetch writes the file of message id to path; fetchErr fails it.
func (f *fakeBackend) Fetch(ctx context.Context, id, path string, progress func(done, total int64)) error {
	f.mu.Lock()
	var ref *storage.FileRef
	for _, ms := range f.msgs {
		for _, m := range ms {
			if m.ID == id {
				ref = m.File
			}
		}
	}
	b, ok := []byte(nil), false
	if ref != nil {
		b, ok = f.blobs[ref.Hash]
	}
	err := f.fetchErr
	f.fetched = append(f.fetched, id)
	f.mu.Unlock()
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("message %s has no file here", id)
	}
	if progress != nil {
		progress(int64(len(b))/2, int64(len(b)))
		progress(int64(len(b)), int64(len(b)))
	}
	return os.WriteFile(path, b, 0o644)
}

// OpenFile serves blobs; a hash in remote is "not fetched" until asked.
func (f *fakeBackend) OpenFile(ctx context.Context, file storage.FileRef, fetch bool) (io.ReadSeekCloser, error) {
	f.mu.Lock()
	gate := f.openGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[file.Hash]
	if !ok {
		return nil, fmt.Errorf("no file %s", file.Hash)
	}
	if f.remote[file.Hash] {
		if !fetch {
			return nil, ErrNotFetched
		}
		delete(f.remote, file.Hash)
	}
	f.opened = append(f.opened, file.Hash)
	return nopCloser{bytes.NewReader(b)}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
