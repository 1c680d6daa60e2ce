package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"concord/storage"
)

// An invite code is one line: invitePrefix, then unpadded base64url of the
// JSON inviteCode. It carries what a new member needs to reach the team
// (addresses, the network key) and a one-time key pair. The team records
// the invite (its ID, the key's peer ID, its expiry) in the log, so any
// member admits the key's holder, once, until the invite expires; the
// issuing admin's signature lets the redeeming member check that nothing
// in the token was changed.
type inviteCode struct {
	V        int          `json:"v"`
	Team     string       `json:"team"`
	TeamName string       `json:"team_name"`
	Net      []byte       `json:"net"` // the team's network key
	Peers    []invitePeer `json:"peers"`
	Token    inviteToken  `json:"token"`
	Secret   []byte       `json:"secret"` // the one-time key's private half
}

type invitePeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// inviteToken is the signed part of an invite.
type inviteToken struct {
	ID      string    `json:"id"`
	Issuer  string    `json:"issuer"`
	Expires time.Time `json:"expires"`
	Sig     []byte    `json:"sig"`
}

const (
	invitePrefix    = "concord2-"
	oldInvitePrefix = "concord1-"
	// DefaultInviteTTL is how long an invite stays valid unless --ttl says.
	DefaultInviteTTL = 24 * time.Hour
	maxInviteTTL     = 30 * 24 * time.Hour
	maxInvitePeers   = 3
	maxInviteAddrs   = 3
)

// signedBytes is what the issuer signs: everything that decides who may
// join which team until when.
func (t inviteToken) signedBytes(team string, key peer.ID) []byte {
	return fmt.Appendf(nil, "concord-invite/2\n%s\n%s\n%s\n%s\n%d", team, t.ID, t.Issuer, key, t.Expires.UnixNano())
}

// verify checks the issuer's signature over the token for key.
func (t inviteToken) verify(team string, key peer.ID) error {
	issuer, err := peer.Decode(t.Issuer)
	if err != nil {
		return fmt.Errorf("%w: bad issuer", ErrBadInvite)
	}
	pub, err := issuer.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: bad issuer", ErrBadInvite)
	}
	if ok, err := pub.Verify(t.signedBytes(team, key), t.Sig); err != nil || !ok {
		return fmt.Errorf("%w: its signature is not valid (forged or altered)", ErrBadInvite)
	}
	return nil
}

func (c inviteCode) String() string {
	b, _ := json.Marshal(c) // plain values: cannot fail
	return invitePrefix + base64.RawURLEncoding.EncodeToString(b)
}

// parseInvite decodes and checks a code: its shape and the issuer's
// signature. It returns the one-time key the joiner connects with.
// Expiry is checked by the caller, against its clock.
func parseInvite(code string) (inviteCode, crypto.PrivKey, error) {
	var inv inviteCode
	code = strings.TrimSpace(code)
	if strings.HasPrefix(code, oldInvitePrefix) {
		return inv, nil, fmt.Errorf("%w: it is from an older Concord version; ask for a new one", ErrBadInvite)
	}
	if !strings.HasPrefix(code, invitePrefix) {
		return inv, nil, fmt.Errorf("%w: it should start with %q", ErrBadInvite, invitePrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(code, invitePrefix))
	if err != nil {
		return inv, nil, fmt.Errorf("%w: damaged (was it copied whole?)", ErrBadInvite)
	}
	if err := json.Unmarshal(b, &inv); err != nil || inv.V != 2 {
		return inv, nil, fmt.Errorf("%w: damaged or from another version", ErrBadInvite)
	}
	if inv.Team == "" || len(inv.Peers) == 0 || len(inv.Net) != 32 || inv.Token.ID == "" {
		return inv, nil, fmt.Errorf("%w: incomplete", ErrBadInvite)
	}
	for _, p := range inv.Peers {
		if _, err := peer.Decode(p.ID); err != nil {
			return inv, nil, fmt.Errorf("%w: bad member ID", ErrBadInvite)
		}
		for _, a := range p.Addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return inv, nil, fmt.Errorf("%w: bad address %q", ErrBadInvite, a)
			}
		}
	}
	key, err := crypto.UnmarshalPrivateKey(inv.Secret)
	if err != nil {
		return inv, nil, fmt.Errorf("%w: damaged key", ErrBadInvite)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return inv, nil, fmt.Errorf("%w: damaged key", ErrBadInvite)
	}
	if err := inv.Token.verify(inv.Team, id); err != nil {
		return inv, nil, err
	}
	return inv, key, nil
}

// Invite issues an invite valid for ttl (DefaultInviteTTL when zero): it
// records the invite in the team's log (so it needs quorum) and returns
// the code. Only admins may invite.
func (n *Node) Invite(ctx context.Context, ttl time.Duration) (string, error) {
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if ttl < time.Minute || ttl > maxInviteTTL {
		return "", fmt.Errorf("%w: an invite lasts from 1 minute to %v", ErrInvalid, maxInviteTTL)
	}
	if err := n.caughtUp(ctx); err != nil {
		return "", err
	}
	self := n.ID().String()
	if m, err := n.store.Member(self); err != nil || m.Role != storage.RoleAdmin {
		return "", fmt.Errorf("%w: only an admin can invite", ErrInvalid)
	}
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return "", err
	}
	key, _ := peer.IDFromPrivateKey(priv)
	secret, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return "", err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	tok := inviteToken{ID: hex.EncodeToString(id[:]), Issuer: self,
		Expires: n.clock.Now().Add(ttl).UTC().Truncate(time.Second)}
	own := n.host.Host().Peerstore().PrivKey(n.ID())
	if tok.Sig, err = own.Sign(tok.signedBytes(n.conf.TeamID, key)); err != nil {
		return "", err
	}
	op := storage.Op{Kind: storage.OpInvite, By: self,
		Invite: &storage.Invite{ID: tok.ID, Key: key.String(), Expires: tok.Expires}}
	if _, err := n.commit(ctx, op); err != nil {
		return "", fmt.Errorf("recording the invite: %w", err)
	}
	net, _ := n.conf.networkKey()
	return inviteCode{V: 2, Team: n.conf.TeamID, TeamName: n.conf.TeamName, Net: net,
		Peers: n.invitePeers(), Token: tok, Secret: secret}.String(), nil
}

// invitePeers lists where a joiner can reach the team: this member first,
// then a few connected members, a few addresses each and without the
// /p2p/ID part (the ID is beside them), to keep the code short.
func (n *Node) invitePeers() []invitePeer {
	var own []string
	for _, a := range n.host.Host().Addrs() {
		if !manet.IsIPUnspecified(a) && len(own) < maxInviteAddrs {
			own = append(own, a.String())
		}
	}
	peers := []invitePeer{{ID: n.ID().String(), Addrs: own}}
	members, _ := n.store.Members()
	for _, m := range members {
		id, err := peer.Decode(m.ID)
		if err != nil || id == n.ID() || !n.host.IsConnected(id) || len(peers) == maxInvitePeers {
			continue
		}
		p := invitePeer{ID: m.ID}
		for _, a := range n.host.Host().Peerstore().Addrs(id) {
			if len(p.Addrs) < maxInviteAddrs {
				p.Addrs = append(p.Addrs, a.String())
			}
		}
		peers = append(peers, p)
	}
	return peers
}
