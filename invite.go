package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"concord/p2p"
	"concord/storage"
)

// invite is what an invite code carries: enough for a new member to find
// the team and say which team it means to join.
type invite struct {
	V        int      `json:"v"`
	Team     string   `json:"team"`
	TeamName string   `json:"team_name"`
	Inviter  string   `json:"inviter"`
	Addrs    []string `json:"addrs"`
}

// invitePrefix makes a code recognisable and versioned; the rest is
// unpadded base64url, so the code survives copy and paste in one line.
const invitePrefix = "concord1-"

// ErrBadInvite marks an invite code that cannot be used.
var ErrBadInvite = errors.New("invalid invite code")

func (i invite) String() string {
	b, _ := json.Marshal(i) // plain strings: cannot fail
	return invitePrefix + base64.RawURLEncoding.EncodeToString(b)
}

func parseInvite(code string) (invite, error) {
	var inv invite
	code = strings.TrimSpace(code)
	if !strings.HasPrefix(code, invitePrefix) {
		return inv, fmt.Errorf("%w: it should start with %q", ErrBadInvite, invitePrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(code, invitePrefix))
	if err != nil {
		return inv, fmt.Errorf("%w: damaged (was it copied whole?)", ErrBadInvite)
	}
	if err := json.Unmarshal(b, &inv); err != nil || inv.V != 1 {
		return inv, fmt.Errorf("%w: damaged or from another version", ErrBadInvite)
	}
	if inv.Team == "" || len(inv.Addrs) == 0 {
		return inv, fmt.Errorf("%w: it names no team or no address", ErrBadInvite)
	}
	if _, err := peer.Decode(inv.Inviter); err != nil {
		return inv, fmt.Errorf("%w: bad inviter ID", ErrBadInvite)
	}
	for _, a := range inv.Addrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return inv, fmt.Errorf("%w: bad address %q", ErrBadInvite, a)
		}
	}
	return inv, nil
}

// Invite returns an invite code for this member's team.
func (n *Node) Invite() string {
	return invite{V: 1, Team: n.conf.TeamID, TeamName: n.conf.TeamName, Inviter: n.ID().String(),
		Addrs: n.host.Addrs()}.String()
}

// joinRequest and joinResponse travel over /concord/join/1.0.0.
type joinRequest struct {
	V     int      `json:"v"`
	Team  string   `json:"team"`
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

type joinResponse struct {
	Err      string           `json:"err,omitempty"`
	TeamName string           `json:"team_name,omitempty"`
	Members  []storage.Member `json:"members,omitempty"`
}

const joinTimeout = 20 * time.Second

func validMemberName(name string) error {
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

// serveJoin admits a new member: it commits the member to the log (the
// leader then adds it to the Raft configuration) and answers with the
// member list so the joiner can find everyone.
func (n *Node) serveJoin(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(joinTimeout))
	from := s.Conn().RemotePeer()
	reply := func(resp joinResponse) {
		b, _ := json.Marshal(resp)
		if err := p2p.WriteFrame(s, b); err != nil {
			s.Reset()
		}
	}
	frame, err := p2p.ReadFrame(s, 64<<10)
	if err != nil {
		reply(joinResponse{Err: "malformed join request"})
		return
	}
	var req joinRequest
	if err := json.Unmarshal(frame, &req); err != nil || req.V != 1 {
		reply(joinResponse{Err: "malformed join request"})
		return
	}
	if req.Team != n.conf.TeamID {
		reply(joinResponse{Err: "the invite is for another team"})
		return
	}
	if err := validMemberName(req.Name); err != nil {
		reply(joinResponse{Err: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout-2*time.Second)
	defer cancel()
	m := storage.Member{ID: from.String(), Name: req.Name, Role: storage.RoleMember, Addrs: req.Addrs,
		JoinedAt: n.clock.Now().UTC()}
	if _, err := n.commit(ctx, storage.Op{Kind: storage.OpAddMember, Member: &m}); err != nil {
		n.log.Warn("join failed", "peer", from, "err", err)
		reply(joinResponse{Err: "the team could not admit you now: " + err.Error()})
		return
	}
	members, err := n.store.Members()
	if err != nil {
		reply(joinResponse{Err: "the team could not admit you now: " + err.Error()})
		return
	}
	n.log.Info("member joined", "peer", from, "name", req.Name)
	reply(joinResponse{TeamName: n.conf.TeamName, Members: members})
}

// joinTeam runs `concord join`: it contacts the inviter with a temporary
// host (with the member's permanent identity), is admitted, and writes the
// data dir. `concord run` then starts the member.
func joinTeam(ctx context.Context, dir, name, code string, listen, ntp []string) (peer.ID, error) {
	inv, err := parseInvite(code)
	if err != nil {
		return "", err
	}
	if err := validMemberName(name); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := ensureNewDataDir(dir); err != nil {
		return "", err
	}
	h, err := p2p.New(ctx, p2p.Config{DataDir: dir, Listen: listen})
	if err != nil {
		return "", err
	}
	defer h.Close()
	inviter, _ := peer.Decode(inv.Inviter)
	var addrs []ma.Multiaddr
	for _, a := range inv.Addrs {
		addr, _ := ma.NewMultiaddr(a)
		if rest, _ := ma.SplitLast(addr); rest != nil && strings.Contains(a, "/p2p/") {
			addr = rest
		}
		addrs = append(addrs, addr)
	}
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	if err := h.Connect(ctx, peer.AddrInfo{ID: inviter, Addrs: addrs}); err != nil {
		return "", fmt.Errorf("cannot reach the inviter (is its member running and reachable?): %w", err)
	}
	s, err := h.Host().NewStream(ctx, inviter, p2p.ProtoJoin)
	if err != nil {
		return "", fmt.Errorf("the inviter does not accept joins: %w", err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	b, _ := json.Marshal(joinRequest{V: 1, Team: inv.Team, Name: name, Addrs: h.Addrs()})
	if err := p2p.WriteFrame(s, b); err != nil {
		return "", fmt.Errorf("join request: %w", err)
	}
	_ = s.CloseWrite()
	frame, err := p2p.ReadFrame(s, p2p.MaxFrame)
	if err != nil {
		return "", fmt.Errorf("no answer from the inviter: %w", err)
	}
	var resp joinResponse
	if err := json.Unmarshal(frame, &resp); err != nil {
		return "", fmt.Errorf("bad answer from the inviter: %w", err)
	}
	if resp.Err != "" {
		return "", fmt.Errorf("join refused: %s", resp.Err)
	}
	var ids []peer.ID
	for _, m := range resp.Members {
		id, err := peer.Decode(m.ID)
		if err != nil || id == h.ID() {
			continue
		}
		var maddrs []ma.Multiaddr
		for _, a := range m.Addrs {
			if addr, err := ma.NewMultiaddr(a); err == nil {
				maddrs = append(maddrs, addr)
			}
		}
		h.AddPeer(id, maddrs)
		ids = append(ids, id)
	}
	h.SetTeam(ids)
	var bound []string
	for _, a := range h.Host().Network().ListenAddresses() {
		bound = append(bound, a.String())
	}
	conf := memberConfig{TeamID: inv.Team, TeamName: orDefault(resp.TeamName, inv.TeamName), Name: name, Listen: bound, NTP: ntp}
	if err := saveConfig(dir, conf); err != nil {
		return "", fmt.Errorf("admitted, but could not write %s: %w", dir, err)
	}
	return h.ID(), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
