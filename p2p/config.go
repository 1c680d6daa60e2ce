package p2p

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// DefaultListenAddr is the listen address used when [Config.Listen] is
// empty: TCP on every IPv4 interface, on a port chosen by the OS.
const DefaultListenAddr = "/ip4/0.0.0.0/tcp/0"

// Default connection manager watermarks, used when [Config.ConnLow] and
// [Config.ConnHigh] are zero. Team peers are protected and never count
// against them.
const (
	DefaultConnLow  = 100
	DefaultConnHigh = 400
)

// Config configures [New]. Zero values mean "use the default".
type Config struct {
	// DataDir holds the identity key and the peer address cache. Required.
	DataDir string
	// Listen lists the TCP multiaddrs to listen on, e.g.
	// "/ip4/0.0.0.0/tcp/4001". Default: [DefaultListenAddr].
	Listen []string
	// Logger receives the package's logs. Default: slog.Default().
	Logger *slog.Logger
	// ConnLow and ConnHigh are the connection manager's watermarks: above
	// ConnHigh connections, unprotected ones are trimmed down to ConnLow.
	// Defaults: [DefaultConnLow], [DefaultConnHigh].
	ConnLow, ConnHigh int
	// PSK is the team's private-network key ([PSKSize] bytes): connections
	// are encrypted with it before anything else is said, so a host without
	// it cannot even start a handshake. Nil: an open network (tests).
	PSK []byte
	// Identity, when set, is used instead of the identity key in DataDir
	// (a joiner's one-time invite key).
	Identity crypto.PrivKey
	// Closed admits only peers in Allowed (and later [Host.SetAllowed]) in
	// the connection gater, in both directions. Open (false) admits every
	// peer not blocked; only tests and benchmarks run open.
	Closed  bool
	Allowed []peer.ID
}

// PSKSize is the length of a team's private-network key.
const PSKSize = 32

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if len(c.Listen) == 0 {
		c.Listen = []string{DefaultListenAddr}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ConnLow == 0 && c.ConnHigh == 0 {
		c.ConnLow, c.ConnHigh = DefaultConnLow, DefaultConnHigh
	}
	return c
}

// Validate reports, as an error wrapping [ErrInvalidConfig], the first
// problem with c. Zero fields are valid (they take their defaults). Every
// listen address must be an IP/TCP multiaddr, since TCP is the only
// transport the host runs.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	}
	for _, s := range c.Listen {
		if _, err := parseListenAddr(s); err != nil {
			return err
		}
	}
	if c.ConnLow < 0 || c.ConnHigh < 0 {
		return fmt.Errorf("%w: negative connection watermark (ConnLow %d, ConnHigh %d)",
			ErrInvalidConfig, c.ConnLow, c.ConnHigh)
	}
	if c.PSK != nil && len(c.PSK) != PSKSize {
		return fmt.Errorf("%w: the network key has %d bytes, want %d", ErrInvalidConfig, len(c.PSK), PSKSize)
	}
	if (c.ConnLow == 0) != (c.ConnHigh == 0) {
		return fmt.Errorf("%w: set both ConnLow and ConnHigh, or neither", ErrInvalidConfig)
	}
	if c.ConnHigh < c.ConnLow {
		return fmt.Errorf("%w: ConnHigh %d is below ConnLow %d", ErrInvalidConfig, c.ConnHigh, c.ConnLow)
	}
	return nil
}

// parseListenAddr parses s and checks it is a plain IP/TCP multiaddr.
func parseListenAddr(s string) (ma.Multiaddr, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %w", ErrInvalidConfig, s, err)
	}
	na, err := manet.ToNetAddr(m)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %w", ErrInvalidConfig, s, err)
	}
	if _, ok := na.(*net.TCPAddr); !ok {
		return nil, fmt.Errorf("%w: listen address %q is not TCP (the only transport)", ErrInvalidConfig, s)
	}
	return m, nil
}
