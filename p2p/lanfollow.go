package p2p

import (
	"log/slog"

	ma "github.com/multiformats/go-multiaddr"
)

// lanFollower keeps one LAN announcement of this host (mDNS discovery, a
// team hint) running for the host's current LAN addresses: refresh starts
// it, restarts it when the addresses changed since, and leaves it stopped
// while there are none. Its owner calls refresh every discoveryRecheck and
// close when done, from one goroutine.
type lanFollower struct {
	hs  *Host
	log *slog.Logger
	// start announces addrs (never empty) and returns how to stop that.
	start func(addrs []ma.Multiaddr) (stop func(), err error)

	stop          func() // nil while nothing is announced
	key           string // the addresses announced, see addrsKey
	idle, failing bool   // state already logged
}

func (f *lanFollower) refresh() {
	addrs := f.hs.lanAddrs(f.log)
	key := addrsKey(addrs)
	if f.stop != nil && key == f.key {
		return
	}
	if f.stop != nil {
		f.log.Info("LAN addresses changed, announcing again", "old", f.key, "new", key)
		f.close()
	}
	if len(addrs) == 0 {
		if !f.idle {
			f.log.Info("no LAN address to announce, waiting for one")
			f.idle = true
		}
		return
	}
	f.idle = false
	stop, err := f.start(addrs)
	if err != nil {
		if !f.failing {
			f.log.Warn("announcing on the LAN failed, retrying", "err", err, "retry_every", discoveryRecheck)
			f.failing = true
		}
		return
	}
	f.failing = false
	f.stop, f.key = stop, key
}

// close withdraws the announcement, if any.
func (f *lanFollower) close() {
	if f.stop != nil {
		f.stop()
		f.stop, f.key = nil, ""
	}
}
