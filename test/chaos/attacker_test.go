package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"

	"concord/p2p"
	"concord/storage"
)

// attacker is a libp2p host in the test process that holds a member's
// identity key (read from its bind-mounted data dir): a member whose app
// was replaced by hostile code. It speaks the wire protocol of
// docs/protocol.md directly.
type attacker struct {
	t    *testing.T
	tm   *team
	h    host.Host
	key  crypto.PrivKey // the member's identity: it signs what it proposes
	team string         // the team ID signatures bind
}

func newAttacker(t *testing.T, tm *team, as *member) *attacker {
	t.Helper()
	key, err := p2p.LoadIdentity(as.dir)
	if err != nil {
		t.Fatal(err)
	}
	a := newHost(t, tm, key, networkKey(t, as))
	a.team = memberConfig(t, as).TeamID
	return a
}

// newHost is a bare libp2p host with the given identity and, if psk is not
// nil, the team's private-network key. It has no resource limits of its
// own: the attacker is not the one under test.
func newHost(t *testing.T, tm *team, key crypto.PrivKey, psk []byte) *attacker {
	t.Helper()
	opts := []libp2p.Option{libp2p.Identity(key), libp2p.NoListenAddrs,
		libp2p.ResourceManager(&network.NullResourceManager{})}
	if psk != nil {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(psk)))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &attacker{t: t, tm: tm, h: h, key: key}
}

// networkKey reads the team's private-network key from a member's
// config.json (network_key, hex).
func networkKey(t *testing.T, m *member) []byte {
	t.Helper()
	k, err := hex.DecodeString(memberConfig(t, m).NetworkKey)
	if err != nil || len(k) != p2p.PSKSize {
		t.Fatalf("network key in %s: %v", m.name, err)
	}
	return k
}

// memberConfig reads what the attacks need of a member's config.json.
func memberConfig(t *testing.T, m *member) (conf struct {
	NetworkKey string `json:"network_key"`
	TeamID     string `json:"team_id"`
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	return conf
}

// target connects to a member container at its address on the run's network.
func (a *attacker) target(ctx context.Context, m *member) peer.ID {
	a.t.Helper()
	id, err := a.dial(ctx, m)
	if err != nil {
		a.t.Fatalf("connect to %s: %v", m.name, err)
	}
	return id
}

// dial tries to connect to a member and reports why it could not.
func (a *attacker) dial(ctx context.Context, m *member) (peer.ID, error) {
	id, err := peer.Decode(m.id)
	if err != nil {
		return "", err
	}
	addr := ma.StringCast(fmt.Sprintf("/ip4/%s/tcp/%d", m.ip, memberPort))
	return id, a.h.Connect(ctx, peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{addr}})
}

// forwardAnswer is the leader's answer on /concord/propose/1.0.0.
type forwardAnswer struct {
	Err     string `json:"err"`
	Code    string `json:"code"`
	Results []struct {
		Res   storage.Result `json:"res"`
		Index uint64         `json:"index"`
		Err   string         `json:"err"`
		Code  string         `json:"code"`
	} `json:"results"`
}

// forwardVersion is the forward request's version byte once the team signs
// its ops (docs/protocol.md, "Signed ops").
const forwardVersion = 3

// propose forwards envelopes the way a follower of a signing team does: one
// frame holding the version byte and one group of ops signed with the
// member's key (signer, signature, op count, each op's canonical form:
// empty ID, kind byte, envelope).
func (a *attacker) propose(ctx context.Context, to peer.ID, envs ...storage.Envelope) (forwardAnswer, error) {
	signer := a.h.ID().String()
	var canons []byte
	signed := storage.AppendString([]byte("concord/signed-ops/1\x00"), a.team)
	signed = binary.AppendUvarint(storage.AppendString(signed, signer), uint64(len(envs)))
	for i := range envs {
		canon := storage.AppendEnvelope(append(storage.AppendString(nil, ""), byte(storage.OpMessage)), &envs[i])
		h := sha256.Sum256(canon)
		signed = append(signed, h[:]...)
		canons = append(canons, canon...)
	}
	sig, err := a.key.Sign(signed)
	if err != nil {
		return forwardAnswer{}, err
	}
	body := binary.AppendUvarint([]byte{forwardVersion}, 1)
	body = storage.AppendString(storage.AppendString(body, signer), string(sig))
	body = append(binary.AppendUvarint(body, uint64(len(envs))), canons...)
	return a.send(ctx, to, body)
}

// send writes one frame on a new propose stream and reads the answer.
func (a *attacker) send(ctx context.Context, to peer.ID, frame []byte) (forwardAnswer, error) {
	var ans forwardAnswer
	s, err := a.h.NewStream(ctx, to, p2p.ProtoPropose)
	if err != nil {
		return ans, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	if err := p2p.WriteFrame(s, frame); err != nil {
		return ans, err
	}
	_ = s.CloseWrite()
	b, err := p2p.ReadFrame(s, p2p.MaxFrame)
	if err != nil {
		return ans, err
	}
	return ans, json.Unmarshal(b, &ans)
}

// sendRaw writes raw bytes on a new propose stream while it reads the
// answer (an oversized frame's length prefix, say: the leader answers
// without reading the rest, so the write may never finish), then resets
// the stream.
func (a *attacker) sendRaw(ctx context.Context, to peer.ID, raw []byte) (forwardAnswer, error) {
	var ans forwardAnswer
	s, err := a.h.NewStream(ctx, to, p2p.ProtoPropose)
	if err != nil {
		return ans, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if _, err := s.Write(raw); err == nil {
			_ = s.CloseWrite()
		}
	}()
	b, err := p2p.ReadFrame(s, p2p.MaxFrame)
	_ = s.Reset() // ends the write too
	<-wrote
	if err != nil {
		return ans, err
	}
	return ans, json.Unmarshal(b, &ans)
}

// envelopeOf rebuilds a committed message's envelope from a history row.
func envelopeOf(r historyRow) storage.Envelope {
	return storage.Envelope{ID: r.ID, Author: r.Author, Channel: r.Channel, Text: r.Text, SentAt: r.SentAt}
}

// historyRow is the part of `concord history --json` an envelope needs.
type historyRow struct {
	ID      string    `json:"id"`
	Channel string    `json:"channel"`
	Author  string    `json:"author"`
	Text    string    `json:"text"`
	SentAt  time.Time `json:"sent_at"`
}
