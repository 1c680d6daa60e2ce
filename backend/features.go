//go:build !headless

package backend

import (
	"context"
	"errors"
	"fmt"
	"io"

	"concord/app"
	"concord/node"
	"concord/storage"
)

// The Backend's search, private conversations and files: thin
// adapters over the Node (nodesearch.go, nodedm.go, nodefiles.go).

// Search implements app.Backend.
func (b *Backend) Search(ctx context.Context, query string, limit int) ([]storage.Message, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	return n.Search(ctx, query, "", limit)
}

// StartConversation implements app.Backend.
func (b *Backend) StartConversation(ctx context.Context, with []string) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	return n.Conversation(ctx, with)
}

// Attach implements app.Backend.
func (b *Backend) Attach(ctx context.Context, channel, path string, progress func(done, total int64)) (string, error) {
	n, err := b.node()
	if err != nil {
		return "", err
	}
	id, err := n.Attach(ctx, channel, path, progress)
	if errors.Is(err, node.ErrQueued) {
		return id, fmt.Errorf("%w (%w)", app.ErrQueued, err)
	}
	return id, err
}

// Fetch implements app.Backend.
func (b *Backend) Fetch(ctx context.Context, id, path string, progress func(done, total int64)) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return n.Fetch(ctx, id, path, progress)
}

// OpenFile implements app.Backend.
func (b *Backend) OpenFile(ctx context.Context, file storage.FileRef, fetch bool) (io.ReadSeekCloser, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	f, err := n.OpenFile(ctx, file, fetch)
	if errors.Is(err, node.ErrNotFetched) {
		return nil, app.ErrNotFetched
	}
	return f, err
}

// Pins implements app.Backend.
func (b *Backend) Pins(ctx context.Context, channel string) ([]storage.Message, error) {
	n, err := b.node()
	if err != nil {
		return nil, err
	}
	return n.Pins(ctx, channel)
}

// Pin implements app.Backend.
func (b *Backend) Pin(ctx context.Context, id string, unpin bool) error {
	n, err := b.node()
	if err != nil {
		return err
	}
	return n.Pin(ctx, id, unpin)
}
