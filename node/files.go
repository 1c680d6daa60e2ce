package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/p2p"
	"concord/storage"
)

// Attachments: the log carries a file's name, size, type and SHA-256; the
// bytes live in DATA/blobs and move between members over p2p.ProtoBlob, from
// any member that has them, verified against the hash. Members fetch the
// files of channels they read up to autoFetchBytes on their own, so a file
// outlives its author going offline once someone has it.

// autoFetchBytes is the largest file a member fetches without being asked,
// unless its config.json says otherwise (auto_fetch_mb).
const autoFetchBytes = 10 << 20

// blobReply is the first frame of an answer on p2p.ProtoBlob; Size bytes follow.
type blobReply struct {
	Size int64  `json:"size,omitempty"`
	Err  string `json:"err,omitempty"`
}

// Attach stores the file at path and sends it to channel as a message.
// progress, if set, hears how many bytes were read.
func (n *Node) Attach(ctx context.Context, channel, path string, progress func(done, total int64)) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !st.Mode().IsRegular() || st.Size() > storage.MaxFileBytes {
		return "", fmt.Errorf("%w: attach a regular file of at most %d MB", ErrInvalid, storage.MaxFileBytes>>20)
	}
	if err := n.roomFor(ctx, st.Size()); err != nil {
		return "", err // before the bytes are copied into DATA/blobs
	}
	name := filepath.Base(path)
	typ := mime.TypeByExtension(filepath.Ext(name))
	if typ == "" {
		typ = "application/octet-stream"
	}
	members, _, err := n.sendTo(ctx, channel) // before the file is stored sealed, or not
	if err != nil {
		return "", err
	}
	if members != nil {
		ref, text, err := n.sealFile(path, name, typ, progress)
		if err != nil {
			return "", err
		}
		return n.send(ctx, storage.Envelope{Channel: channel, Text: text, File: ref}, true)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer f.Close()
	hash, size, err := n.blobs.Put(f, "", storage.MaxFileBytes, func(d int64) { tell(progress, d, st.Size()) })
	if err != nil {
		return "", err
	}
	ref := &storage.FileRef{Name: name, Size: size, Type: typ, Hash: hash}
	return n.send(ctx, storage.Envelope{Channel: channel, Text: name, File: ref}, true)
}

func tell(progress func(done, total int64), done, total int64) {
	if progress != nil {
		progress(done, total)
	}
}

// Fetch writes the file attached to message id to out, fetching it from a
// member that has it when this member does not. When the data dir's disk
// has no room for what the fetch writes there (the blob, and the copy when
// out is on the same disk), it refuses with ErrDiskFull before writing
// anything. A failed write leaves nothing half written: blob.Put keeps
// only whole, verified blobs, and out's ".part" is removed.
func (n *Node) Fetch(ctx context.Context, id, out string, progress func(done, total int64)) error {
	m, err := n.message(ctx, id)
	if err != nil {
		return err
	}
	if m.File == nil {
		return fmt.Errorf("%w: message %s has no file", ErrInvalid, id)
	}
	members, err := n.private(m.Channel)
	if err != nil {
		return err
	}
	if members != nil && !slices.Contains(members, n.ID().String()) {
		return fmt.Errorf("%w: a file of a private conversation you are not part of", ErrInvalid)
	}
	if need := n.fetchNeeds(m.File, out); need > 0 {
		if err := n.roomFor(ctx, need); err != nil {
			return err
		}
	}
	if err := n.fetchBlob(ctx, m.File, progress); err != nil {
		return diskFull(err)
	}
	return diskFull(saveAs(out, func(w io.Writer) error {
		if members != nil {
			return n.openFile(m, w)
		}
		return n.copyBlob(m.File.Hash, w)
	}))
}

// fetchNeeds is how many bytes fetching ref to out writes on the data
// dir's disk: the blob, unless this member holds it, and the copy when out
// is on the same disk. Nothing (0) needs no check: a file already here,
// saved to another disk, takes no room from the member.
func (n *Node) fetchNeeds(ref *storage.FileRef, out string) int64 {
	var need int64
	if !n.blobs.Has(ref.Hash) {
		need += ref.Size
	}
	if sameDisk(n.cfg.Dir, filepath.Dir(out)) {
		need += ref.Size
	}
	return need
}

// saveAs writes out through write: to out+".part", renamed to out once
// written and closed; on any failure the ".part" is removed and out is
// left as it was.
func saveAs(out string, write func(io.Writer) error) (err error) {
	tmp := out + ".part"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	err = write(dst)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// diskFull marks a write that failed for want of space as ErrDiskFull
// (the free-space reading can be a few seconds old, or wrong).
func diskFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w (%v)", ErrDiskFull, err)
	}
	return err
}

// copyBlob copies a stored blob to w.
func (n *Node) copyBlob(hash string, w io.Writer) error {
	src, err := n.blobs.Open(hash)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(w, src)
	return err
}

// fetchBlob makes sure the blob is stored here, asking the connected
// members in turn.
func (n *Node) fetchBlob(ctx context.Context, ref *storage.FileRef, progress func(done, total int64)) error {
	if n.blobs.Has(ref.Hash) {
		tell(progress, ref.Size, ref.Size)
		return nil
	}
	var last error = errors.New("no member that has it is online")
	for _, p := range n.teamPeers() {
		if !n.host.IsConnected(p) {
			continue
		}
		if err := n.fetchFrom(ctx, p, ref, progress); err != nil {
			last = err
			continue
		}
		return nil
	}
	return fmt.Errorf("cannot fetch %s: %w", ref.Name, last)
}

func (n *Node) fetchFrom(ctx context.Context, p peer.ID, ref *storage.FileRef, progress func(done, total int64)) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	s, err := n.host.Host().NewStream(ctx, p, p2p.ProtoBlob)
	if err != nil {
		return err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	if err := p2p.WriteFrame(s, []byte(ref.Hash)); err != nil {
		return err
	}
	_ = s.CloseWrite()
	b, err := p2p.ReadFrame(s, 1024)
	if err != nil {
		return err
	}
	var rep blobReply
	if err := json.Unmarshal(b, &rep); err != nil {
		return err
	}
	if rep.Err != "" {
		return errors.New(rep.Err)
	}
	if rep.Size != ref.Size {
		_ = s.Reset()
		return fmt.Errorf("member %s offers %d bytes, the message says %d", p, rep.Size, ref.Size)
	}
	_, _, err = n.blobs.Put(s, ref.Hash, ref.Size, func(d int64) { tell(progress, d, ref.Size) })
	return err
}

// serveBlob sends a stored blob to a member that asks for it.
func (n *Node) serveBlob(s network.Stream) {
	defer s.Close()
	if !n.team.isMember(s.Conn().RemotePeer()) {
		_ = s.Reset()
		return
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := p2p.ReadFrame(s, 128)
	if err != nil {
		_ = s.Reset()
		return
	}
	reply := func(r blobReply) error {
		j, _ := json.Marshal(r)
		return p2p.WriteFrame(s, j)
	}
	f, err := n.blobs.Open(string(b))
	if err != nil {
		_ = reply(blobReply{Err: "not here"})
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || reply(blobReply{Size: st.Size()}) != nil {
		_ = s.Reset()
		return
	}
	_ = s.SetWriteDeadline(time.Now().Add(10 * time.Minute))
	if _, err := io.Copy(s, f); err != nil {
		_ = s.Reset()
	}
}

// autoFetch fetches, in the background, the small files of the channels
// this member reads, so that they survive their author going offline. It
// pauses while the disk is low or full (roomToFetch) and resumes when it is
// ok again.
func (n *Node) autoFetch(ctx context.Context) {
	limit := n.conf.autoFetchLimit()
	if limit < 0 {
		return
	}
	seen := map[string]uint64{} // channel → last seq looked at
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var applied uint64
	for {
		// Nothing is fetched while the disk is low or full: the loop
		// sleeps until its state changes, and the files it skipped are
		// looked at once it is ok (applied was left behind).
		room, changed := n.roomToFetch()
		var wake <-chan time.Time
		if room {
			wake = tick.C
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-changed:
		}
		if room, _ := n.roomToFetch(); !room {
			continue
		}
		if a := n.store.AppliedIndex(); a == applied {
			continue
		} else {
			applied = a
		}
		chans, err := n.store.Channels()
		if err != nil {
			continue
		}
		for _, ch := range n.visible(chans) {
			if ch.Messages <= seen[ch.Name] {
				continue
			}
			msgs, err := n.store.History(ch.Name, storage.Query{Limit: int(min(ch.Messages-seen[ch.Name], 500))})
			if err != nil {
				continue
			}
			for _, m := range msgs {
				if room, _ := n.roomToFetch(); !room {
					applied = 0 // look again once there is room
					break
				}
				if f := m.File; f != nil && !m.Deleted && f.Size <= limit && !n.blobs.Has(f.Hash) {
					if err := n.fetchBlob(ctx, f, nil); err != nil {
						n.log.Debug("auto-fetch", "file", f.Name, "err", err)
						continue // retried when the log moves on
					}
				}
				seen[ch.Name] = max(seen[ch.Name], m.Seq)
			}
		}
	}
}
