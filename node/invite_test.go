package node

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// signedInvite builds a valid code as an admin would, signed by a fresh
// issuer key, without a running team.
func signedInvite(t testing.TB, team string, expires time.Time) inviteCode {
	t.Helper()
	issuer, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuerID, _ := peer.IDFromPrivateKey(issuer)
	one, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	key, _ := peer.IDFromPrivateKey(one)
	secret, _ := crypto.MarshalPrivateKey(one)
	tok := inviteToken{ID: "0123abcd", Issuer: issuerID.String(), Expires: expires.UTC()}
	if tok.Sig, err = issuer.Sign(tok.signedBytes(team, key)); err != nil {
		t.Fatal(err)
	}
	return inviteCode{V: 2, Team: team, TeamName: "Ann's team", Net: bytes.Repeat([]byte{1}, 32),
		Peers: []invitePeer{{ID: issuerID.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + issuerID.String()}}},
		Token: tok, Secret: secret}
}

func TestInviteRoundTrip(t *testing.T) {
	in := signedInvite(t, "t1", time.Now().Add(time.Hour))
	code := in.String()
	if strings.ContainsAny(code, " \n\t=+/") {
		t.Fatalf("code is not copy-paste safe: %q", code)
	}
	out, key, err := parseInvite("  " + code + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if out.Team != in.Team || out.Token.ID != in.Token.ID || !out.Token.Expires.Equal(in.Token.Expires) || key == nil {
		t.Fatalf("round trip changed the invite: %+v", out)
	}
	t.Logf("an invite code is %d characters", len(code))
}

func TestParseInviteRejects(t *testing.T) {
	good := signedInvite(t, "t1", time.Now().Add(time.Hour))
	other := signedInvite(t, "t1", time.Now().Add(time.Hour))
	with := func(f func(*inviteCode)) string {
		c := good
		c.Peers = append([]invitePeer(nil), good.Peers...)
		f(&c)
		return c.String()
	}
	tests := []struct {
		name, code, want string
	}{
		{"empty", "", "should start with"},
		{"not an invite", "hello", "should start with"},
		{"older version", "concord1-e30", "older Concord version"},
		{"truncated", good.String()[:20], "damaged"},
		{"garbage", invitePrefix + "!!!", "damaged"},
		{"no team", with(func(c *inviteCode) { c.Team = "" }), "incomplete"},
		{"no peers", with(func(c *inviteCode) { c.Peers = nil }), "incomplete"},
		{"short network key", with(func(c *inviteCode) { c.Net = c.Net[:5] }), "incomplete"},
		{"bad member ID", with(func(c *inviteCode) { c.Peers[0].ID = "nope" }), "member ID"},
		{"bad address", with(func(c *inviteCode) { c.Peers[0].Addrs = []string{"nope"} }), "address"},
		{"damaged key", with(func(c *inviteCode) { c.Secret = []byte("x") }), "damaged key"},
		{"expiry extended", with(func(c *inviteCode) { c.Token.Expires = c.Token.Expires.Add(time.Hour) }), "signature"},
		{"other team", with(func(c *inviteCode) { c.Team = "t2" }), "signature"},
		{"other issuer", with(func(c *inviteCode) { c.Token.Issuer = other.Token.Issuer }), "signature"},
		{"key swapped", with(func(c *inviteCode) { c.Secret = other.Secret }), "signature"},
		{"future version", with(func(c *inviteCode) { c.V = 3 }), "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseInvite(tt.code)
			if !errors.Is(err, ErrBadInvite) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseInvite = %v, want ErrBadInvite mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("reason is not one line: %q", err)
			}
		})
	}
}

func FuzzParseInvite(f *testing.F) {
	f.Add(signedInvite(f, "t1", time.Unix(2e9, 0)).String())
	f.Add("concord2-")
	f.Add("concord2-e30")
	f.Fuzz(func(t *testing.T, code string) {
		inv, _, err := parseInvite(code)
		if err != nil {
			if !errors.Is(err, ErrBadInvite) {
				t.Fatalf("error does not wrap ErrBadInvite: %v", err)
			}
			return
		}
		if _, _, err := parseInvite(inv.String()); err != nil {
			t.Fatalf("a valid invite does not survive re-encoding: %v", err)
		}
	})
}
