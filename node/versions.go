package node

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	"concord/internal/durable"
	"concord/p2p"
	"concord/version"
)

// Each member asks its peers which release they run (p2p.ProtoVersion)
// and remembers the answers, with when it last heard each, in
// DATA/versions.json: `members` shows them, and the leader raises the team
// version once every member that counts reads the new one (teamversion.go).

// Release is what a member says of its release.
type Release struct {
	Release     string    `json:"release"`      // "" for releases before 0.2.0 (protocol 1)
	ProtocolMin int       `json:"protocol_min"` // the team versions it works in
	ProtocolMax int       `json:"protocol_max"`
	Seen        time.Time `json:"seen"` // when this member last heard from it
}

const (
	versionsFile     = "versions.json"
	versionTick      = 2 * time.Second  // how often new peers are asked and a raise considered
	versionAskEvery  = 10 * time.Second // how often a peer is asked again (a restart may go unnoticed by the probes)
	versionAskWait   = 5 * time.Second
	maxVersionStream = 2
)

// versions is this member's table of its peers' releases.
type versions struct {
	mu   sync.Mutex
	path string
	m    map[string]Release
}

func loadVersions(dir string) (*versions, error) {
	v := &versions{path: filepath.Join(dir, versionsFile), m: map[string]Release{}}
	b, err := os.ReadFile(v.path)
	if errors.Is(err, os.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &v.m); err != nil {
		v.m = map[string]Release{} // a damaged cache: asked again
	}
	return v, nil
}

func (v *versions) get(id string) (Release, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.m[id]
	return r, ok
}

// note records what id said and saves the table when it changed beyond the
// time (the time alone is saved at most hourly).
func (v *versions) note(id string, r Release) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.m[id]; ok && old.Release == r.Release && old.ProtocolMax == r.ProtocolMax && r.Seen.Sub(old.Seen) < time.Hour {
		return nil // only the time moved: the entry, saved or not, keeps its hourly Seen
	}
	v.m[id] = r
	b, err := json.MarshalIndent(v.m, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(v.path, b, 0o600)
}

// self is this member's own release.
func selfRelease(now time.Time) Release {
	return Release{Release: version.Release, ProtocolMin: version.MinProtocol, ProtocolMax: version.Protocol, Seen: now}
}

// serveVersion answers a peer's question with this member's release.
func (n *Node) serveVersion(s network.Stream) {
	defer s.Close()
	if !n.team.isMember(s.Conn().RemotePeer()) {
		_ = s.Reset()
		return
	}
	b, _ := json.Marshal(selfRelease(time.Time{}))
	_ = s.SetWriteDeadline(time.Now().Add(versionAskWait))
	_ = p2p.WriteFrame(s, b)
}

// askVersions asks each healthy peer its release when it comes online and
// every versionAskEvery after, and considers raising the team version.
func (n *Node) askVersions(ctx context.Context) {
	t := time.NewTicker(versionTick)
	defer t.Stop()
	asked := map[peer.ID]time.Time{}
	for {
		healthy := n.healthyPeers()
		for _, p := range healthy {
			if time.Since(asked[p]) >= versionAskEvery {
				asked[p] = time.Now()
				n.askVersion(ctx, p)
			}
		}
		for p := range asked { // asked again as soon as it is back
			if !slices.Contains(healthy, p) {
				delete(asked, p)
			}
		}
		n.maybeRaiseTeamVersion(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// askVersion asks p its release. A member that answers probes but not this
// protocol runs a release before 0.2.0: protocol 1.
func (n *Node) askVersion(ctx context.Context, p peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, versionAskWait)
	defer cancel()
	r := Release{ProtocolMin: 1, ProtocolMax: 1}
	s, err := n.host.Host().NewStream(ctx, p, p2p.ProtoVersion)
	if err == nil {
		_ = s.SetReadDeadline(time.Now().Add(versionAskWait))
		b, rerr := p2p.ReadFrame(s, 1<<10)
		_ = s.Close()
		if rerr != nil || json.Unmarshal(b, &r) != nil || r.ProtocolMax < 1 {
			return // no answer: nothing learnt
		}
	} else if !errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) {
		return // unreachable now: nothing learnt
	}
	r.Seen = n.clock.Now().UTC()
	if err := n.versions.note(p.String(), r); err != nil {
		n.log.Warn("could not save what peers run", "err", err)
	}
}
