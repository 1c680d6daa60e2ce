package node

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"concord/consensus"
	"concord/dm"
	"concord/p2p"
	"concord/storage"
	"concord/version"
)

// joinRequest and joinResponse travel over /concord/join/1.0.0. The joiner
// connects with the invite's one-time key and names its permanent identity
// (ID), proving it holds that key with Proof.
type joinRequest struct {
	V      int         `json:"v"`
	Team   string      `json:"team"`
	Name   string      `json:"name"`
	ID     string      `json:"id"`
	Addrs  []string    `json:"addrs"`
	Token  inviteToken `json:"token"`
	Proof  []byte      `json:"proof"`
	BoxKey string      `json:"box_key"` // X25519 public key for private messages
	// Admission is the invite key's signature admitting ID
	// (consensus.AdmissionBytes): in a team that signs its ops every
	// member checks it, so only the holder of an invite code can redeem
	// it (absent from releases before 0.4.0).
	Admission []byte `json:"admission,omitempty"`
	// Release and Protocol say which Concord the joiner runs (absent
	// from releases before 0.2.0: protocol 1); a joiner that cannot read
	// the team's log is refused, naming the release it needs.
	Release  string `json:"release,omitempty"`
	Protocol int    `json:"protocol,omitempty"`
}

type joinResponse struct {
	Err      string           `json:"err,omitempty"`
	TeamName string           `json:"team_name,omitempty"`
	Members  []storage.Member `json:"members,omitempty"`
}

const joinTimeout = 20 * time.Second

// proofBytes is what the joiner's permanent key signs: this team, this
// invite, this connection's one-time key.
func proofBytes(team, token string, key peer.ID) []byte {
	return fmt.Appendf(nil, "concord-join/2\n%s\n%s\n%s", team, token, key)
}

// ValidName checks a member's display name: 1 to 64 characters, no
// control characters.
func ValidName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return errors.New("a name must be 1 to 64 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("a name cannot contain control characters")
		}
	}
	return nil
}

// checkJoin decides a redemption before anything is committed, so the
// joiner gets a clear reason; the FSM applies the same rules again, bindingly.
// already reports a retry of a redemption that was committed.
func (n *Node) checkJoin(req joinRequest, from peer.ID) (already bool, err error) {
	if req.V != 2 {
		return false, errors.New("malformed join request")
	}
	if req.Team != n.conf.TeamID {
		return false, errors.New("the invite is for another team")
	}
	if tv := n.store.TeamVersion(); max(req.Protocol, 1) < tv {
		return false, fmt.Errorf("this team needs Concord %s or later; you have %s", version.ReleaseFor(tv), cmp.Or(req.Release, "an older release"))
	}
	if err := ValidName(req.Name); err != nil {
		return false, err
	}
	if _, err := dm.ParsePublic(req.BoxKey); err != nil {
		return false, errors.New("malformed key for private messages")
	}
	id, err := peer.Decode(req.ID)
	if err != nil {
		return false, errors.New("malformed member ID")
	}
	pub, err := id.ExtractPublicKey()
	if ok, verr := verifySig(pub, err, proofBytes(req.Team, req.Token.ID, from), req.Proof); !ok || verr != nil {
		return false, errors.New("the joiner did not prove its identity")
	}
	if err := req.Token.verify(req.Team, from); err != nil {
		return false, errors.New("the invite's signature is not valid (forged or altered)")
	}
	if n.store.TeamVersion() >= consensus.SignProtocol {
		pub, err := from.ExtractPublicKey()
		if ok, verr := verifySig(pub, err, consensus.AdmissionBytes(req.Team, req.Token.ID, req.ID), req.Admission); !ok || verr != nil {
			return false, errors.New("the invite's key did not sign this admission")
		}
	}
	inv, err := n.store.Invite(req.Token.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, errors.New("this invite is unknown to the team")
	case err != nil:
		return false, err
	case inv.Key != from.String() || inv.Issuer != req.Token.Issuer || !inv.Expires.Equal(req.Token.Expires):
		return false, errors.New("the invite's signature is not valid (forged or altered)")
	case inv.UsedBy == req.ID:
		return true, nil
	case inv.UsedBy != "":
		return false, errors.New("this invite was already used")
	case !n.clock.Now().Before(inv.Expires):
		return false, fmt.Errorf("this invite expired on %s", inv.Expires.Format(time.RFC3339))
	}
	if m, err := n.store.Member(inv.Issuer); err != nil || m.Role != storage.RoleAdmin {
		return false, errors.New("the invite's issuer is no longer an admin")
	}
	if _, err := n.store.Removal(req.ID); err == nil {
		return false, errors.New("this member was removed from the team")
	}
	return false, nil
}

func verifySig(pub crypto.PubKey, err error, data, sig []byte) (bool, error) {
	if err != nil {
		return false, err
	}
	return pub.Verify(data, sig)
}

// serveJoin admits a new member: any member serves it, for a peer holding
// a recorded invite's key. It commits the member to the log (the leader
// then adds it to the Raft configuration) and answers with the member list
// so the joiner can find everyone.
func (n *Node) serveJoin(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	if !n.team.isInvited(from) {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(joinTimeout))
	reply := func(resp joinResponse) {
		b, _ := json.Marshal(resp)
		if err := p2p.WriteFrame(s, b); err != nil {
			_ = s.Reset()
		}
	}
	var req joinRequest
	frame, err := p2p.ReadFrame(s, 64<<10)
	if err == nil {
		err = json.Unmarshal(frame, &req)
	}
	if err != nil {
		reply(joinResponse{Err: "malformed join request"})
		return
	}
	already, err := n.checkJoin(req, from)
	if err != nil {
		n.log.Warn("join refused", "peer", from, "member", req.ID, "err", err)
		reply(joinResponse{Err: err.Error()})
		return
	}
	if !already {
		ctx, cancel := context.WithTimeout(n.ctx, joinTimeout-2*time.Second)
		defer cancel()
		m := storage.Member{ID: req.ID, Name: req.Name, Addrs: req.Addrs, BoxKey: req.BoxKey}
		op := storage.Op{Kind: storage.OpAddMember, By: n.ID().String(), Token: req.Token.ID, Member: &m,
			Invitee: from.String(), Admission: req.Admission}
		if _, err := n.commitAuto(ctx, op); err != nil {
			n.log.Warn("join failed", "member", req.ID, "err", err)
			reply(joinResponse{Err: "the team could not admit you: " + err.Error()})
			return
		}
	}
	members, err := n.store.Members()
	if err != nil {
		reply(joinResponse{Err: "the team could not admit you now: " + err.Error()})
		return
	}
	n.log.Info("member joined", "member", req.ID, "name", req.Name)
	reply(joinResponse{TeamName: n.conf.TeamName, Members: members})
}

// Join runs `concord join`: it reaches the team with the invite's
// one-time key, is admitted under this member's permanent identity, and
// writes the data dir. `concord run` then starts the member.
func Join(ctx context.Context, dir, name, code string, listen, ntp []string) (peer.ID, error) {
	inv, key, err := parseInvite(code)
	if err != nil {
		return "", err
	}
	if !time.Now().Before(inv.Token.Expires) {
		return "", fmt.Errorf("%w: it expired on %s; ask for a new one", ErrBadInvite, inv.Token.Expires.Local().Format("2006-01-02 15:04"))
	}
	if err := ValidName(name); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := ensureNewDataDir(dir); err != nil {
		return "", err
	}
	// The permanent host only binds the member's listen address (so the
	// team learns where to reach it) and keeps the team's addresses.
	perm, err := p2p.New(ctx, p2p.Config{DataDir: dir, Listen: listen, PSK: inv.Net, Closed: true, Logger: quiet})
	if err != nil {
		return "", err
	}
	defer perm.Close()
	box, err := dm.LoadKey(dir)
	if err != nil {
		return "", err
	}
	resp, err := redeem(ctx, dir, inv, key, perm, name, box.PublicString())
	if err != nil {
		return "", err
	}
	var ids, seeds []peer.ID
	for _, m := range resp.Members {
		id, err := peer.Decode(m.ID)
		if err != nil || id == perm.ID() {
			continue
		}
		var maddrs []ma.Multiaddr
		for _, a := range m.Addrs {
			if addr, err := ma.NewMultiaddr(a); err == nil {
				maddrs = append(maddrs, addr)
			}
		}
		perm.AddPeer(id, maddrs)
		ids = append(ids, id)
		seeds = append(seeds, id)
	}
	perm.SetTeam(ids)
	var bound []string
	for _, a := range perm.Host().Network().ListenAddresses() {
		bound = append(bound, a.String())
	}
	conf := MemberConfig{TeamID: inv.Team, TeamName: cmp.Or(resp.TeamName, inv.TeamName), Name: name,
		Listen: bound, NTP: ntp, NetworkKey: hex.EncodeToString(inv.Net), Release: version.Release}
	for _, s := range seeds {
		conf.Seeds = append(conf.Seeds, s.String())
	}
	if err := SaveConfig(dir, conf); err != nil {
		return "", fmt.Errorf("admitted, but could not write %s: %w", dir, err)
	}
	return perm.ID(), nil
}

// redeem presents the invite to the members it lists, in order, until one
// answers. A refusal is final; an unreachable member is skipped.
// The ephemeral host's scratch dir lives in the new data dir, not in the
// system's temp dir: a FROM scratch container has no /tmp.
func redeem(ctx context.Context, dir string, inv inviteCode, key crypto.PrivKey, perm *p2p.Host, name, boxKey string) (joinResponse, error) {
	var resp joinResponse
	tmp, err := os.MkdirTemp(dir, ".join-")
	if err != nil {
		return resp, err
	}
	defer os.RemoveAll(tmp)
	var allowed []peer.ID
	for _, p := range inv.Peers {
		id, _ := peer.Decode(p.ID) // checked by parseInvite
		allowed = append(allowed, id)
	}
	eph, err := p2p.New(ctx, p2p.Config{DataDir: tmp, Identity: key, PSK: inv.Net, Closed: true, Allowed: allowed, Logger: quiet,
		Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		return resp, err
	}
	defer eph.Close()
	own := perm.Host().Peerstore().PrivKey(perm.ID())
	proof, err := own.Sign(proofBytes(inv.Team, inv.Token.ID, eph.ID()))
	if err != nil {
		return resp, err
	}
	admission, err := key.Sign(consensus.AdmissionBytes(inv.Team, inv.Token.ID, perm.ID().String()))
	if err != nil {
		return resp, err
	}
	req := joinRequest{V: 2, Team: inv.Team, Name: name, ID: perm.ID().String(), Addrs: perm.Addrs(),
		Release: version.Release, Protocol: version.Protocol,
		Token: inv.Token, Proof: proof, BoxKey: boxKey, Admission: admission}
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	var lastErr error
	for i, p := range inv.Peers {
		resp, err := askToJoin(ctx, eph, allowed[i], p.Addrs, req)
		if err == nil && resp.Err != "" {
			return resp, &JoinRefusedError{Reason: resp.Err}
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
	}
	return resp, fmt.Errorf("cannot reach the team at any address in the invite "+
		"(is a member running and reachable, and the invite still valid?): %w", lastErr)
}

func askToJoin(ctx context.Context, eph *p2p.Host, id peer.ID, addrs []string, req joinRequest) (joinResponse, error) {
	var resp joinResponse
	ai := peer.AddrInfo{ID: id}
	for _, a := range addrs {
		addr, err := ma.NewMultiaddr(a)
		if err != nil {
			continue
		}
		if rest, last := ma.SplitLast(addr); last != nil && last.Protocol().Code == ma.P_P2P {
			addr = rest
		}
		ai.Addrs = append(ai.Addrs, addr)
	}
	if err := eph.Connect(ctx, ai); err != nil {
		return resp, err
	}
	s, err := eph.Host().NewStream(ctx, id, p2p.ProtoJoin)
	if err != nil {
		return resp, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	b, _ := json.Marshal(req)
	if err := p2p.WriteFrame(s, b); err != nil {
		return resp, err
	}
	_ = s.CloseWrite()
	frame, err := p2p.ReadFrame(s, p2p.MaxFrame)
	if err != nil {
		return resp, fmt.Errorf("no answer: %w", err)
	}
	if err := json.Unmarshal(frame, &resp); err != nil {
		return resp, fmt.Errorf("bad answer: %w", err)
	}
	return resp, nil
}

// quiet is the logger of the short-lived hosts of `concord join`: their
// start/stop lines would only clutter the command's output.
var quiet = slog.New(slog.DiscardHandler)
