//go:build !headless

package backend

import (
	"context"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"concord/app"
	"concord/p2p"
)

// BrowseTeams lists the teams whose members announce themselves on the LAN
// (p2p team hints); it needs no member of our own. A member that is to
// listen on loopback only is on no LAN: it does not look (nor send a
// packet on any other interface), and returns when ctx ends.
func (b *Backend) BrowseTeams(ctx context.Context, found func([]app.LANTeam)) error {
	if loopbackOnly(b.listenAddrs()) {
		<-ctx.Done()
		return nil
	}
	return p2p.BrowseTeams(ctx, func(hints []p2p.TeamHint) {
		teams := make([]app.LANTeam, len(hints))
		for i, h := range hints {
			teams[i] = app.LANTeam{Name: h.Name, Members: h.Members}
		}
		found(teams)
	})
}

// loopbackOnly reports whether every address in listen is on loopback.
func loopbackOnly(listen []string) bool {
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil || !manet.IsIPLoopback(a) {
			return false
		}
	}
	return len(listen) > 0
}
