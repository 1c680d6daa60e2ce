package node

import (
	"context"
	"io"
	"time"

	"concord/storage"
)

// What a window or any other live reader of the member uses: reads of the
// local state that do not wait for the member to catch up (History and
// Channels do), and the notifications to follow it.

// Read returns messages of channel as this member reads them now (private
// conversations opened), without waiting to catch up.
func (n *Node) Read(channel string, q storage.Query) ([]storage.Message, error) {
	return n.readable(channel, q)
}

// HistoryBefore is History for a page: up to limit messages of channel
// before seq before (0: the latest), oldest first.
func (n *Node) HistoryBefore(ctx context.Context, channel string, before uint64, limit int) ([]storage.Message, error) {
	if err := n.caughtUp(ctx); err != nil {
		return nil, err
	}
	return n.readable(channel, storage.Query{Before: before, Limit: limit})
}

// ReadableChannels lists the channels this member reads (public channels
// and its own private conversations), without waiting to catch up.
func (n *Node) ReadableChannels() ([]storage.Channel, error) {
	chans, err := n.store.Channels()
	return n.visible(chans), err
}

// HasChannel reports whether the team has channel, as far as this member
// has applied.
func (n *Node) HasChannel(name string) bool {
	_, err := n.store.Channel(name)
	return err == nil
}

// AppliedIndex is the index of the last log entry applied to this
// member's state.
func (n *Node) AppliedIndex() uint64 { return n.store.AppliedIndex() }

// WaitApplied blocks until entry index is applied to this member's state,
// ctx ends, or the member closes.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.store.WaitApplied(ctx, index)
}

// Changes returns the change feed (edits, deletions, reactions) after
// position after, at most limit; complete is false when entries after
// after were already dropped from the bounded feed.
func (n *Node) Changes(after uint64, limit int) ([]storage.Change, bool, error) {
	return n.store.Changes(after, limit)
}

// LastChange is the change feed's newest position.
func (n *Node) LastChange() (uint64, error) { return n.store.LastChange() }

// WaitChannels waits until this member's state holds the team's channels
// (a member that just joined starts empty), for at most ctx.
func (n *Node) WaitChannels(ctx context.Context) error {
	for {
		if chans, err := n.store.Channels(); err != nil || len(chans) > 0 {
			return err
		}
		if err := n.store.WaitApplied(ctx, n.store.AppliedIndex()+1); err != nil {
			return err
		}
	}
}

// WaitReplayed waits until the team has a leader and this member has
// applied every entry it knows to be committed: after a start, until its
// log has been replayed. Raft offers no notification: it polls every poll.
func (n *Node) WaitReplayed(ctx context.Context, poll time.Duration) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if rs := n.replica.Status(); rs.Leader != "" && rs.AppliedIndex >= rs.CommitIndex {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Leader is the team leader's peer ID, "" when none is known.
func (n *Node) Leader() string { return n.replica.Status().Leader }

// Name is this member's display name: the team's record of it, else the
// name it was started with.
func (n *Node) Name() string {
	if m, err := n.store.Member(n.ID().String()); err == nil {
		return m.Name
	}
	return n.conf.Name
}

// TeamName is the team's name.
func (n *Node) TeamName() string { return n.conf.TeamName }

// Addrs are the addresses this member listens on.
func (n *Node) Addrs() []string { return n.host.Addrs() }

// OpenFile opens an attachment's bytes: from this member's blob store, or,
// when fetch is set, fetched from a member that has them first
// (ErrNotFetched when not; ErrDiskFull, before fetching, when the data
// dir's disk has no room for it).
func (n *Node) OpenFile(ctx context.Context, file storage.FileRef, fetch bool) (io.ReadSeekCloser, error) {
	if !n.blobs.Has(file.Hash) {
		if !fetch {
			return nil, ErrNotFetched
		}
		if err := n.roomFor(ctx, file.Size); err != nil {
			return nil, err
		}
		if err := n.fetchBlob(ctx, &file, nil); err != nil {
			return nil, diskFull(err)
		}
	}
	return n.blobs.Open(file.Hash)
}
