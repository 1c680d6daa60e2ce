package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/p2p"
	"concord/storage"
	"concord/version"
)

// A forward request is what a follower sends to the leader over
// /concord/propose/1.0.0 (docs/protocol.md): the byte forwardVersion, then
// the ops in the command encoding (uvarint n, op × n).

// forwardResponse answers a forwardRequest: either Err for the whole
// request, or one result per op in the same order.
type forwardResponse struct {
	Err     string          `json:"err,omitempty"`
	Code    string          `json:"code,omitempty"` // not_leader, refused, bad_request, unavailable
	Leader  string          `json:"leader,omitempty"`
	Results []forwardResult `json:"results,omitempty"`
}

type forwardResult struct {
	Res   storage.Result `json:"res"`
	Index uint64         `json:"index,omitempty"`
	Err   string         `json:"err,omitempty"`
	Code  string         `json:"code,omitempty"`
}

// Forward requests: version 2 carries ops as version 2 commands do;
// version 3, sent once the team signs its ops (protocol 4), carries them
// in signed groups (sign.go).
const (
	forwardVersion       byte = 2
	forwardVersionSigned byte = 3
)

func encodeForward(ops []storage.Op, signed bool) []byte {
	if signed {
		return appendGroups([]byte{forwardVersionSigned}, ops)
	}
	return appendOps([]byte{forwardVersion}, ops)
}

func decodeForward(b []byte) ([]storage.Op, error) {
	switch {
	case len(b) > 0 && b[0] == forwardVersion:
		return readOps(storage.NewReader(b[1:]), version.Protocol)
	case len(b) > 0 && b[0] == forwardVersionSigned:
		return readGroups(storage.NewReader(b[1:]), b[1:], version.Protocol)
	}
	return nil, fmt.Errorf("%w: unknown forward request version", ErrBadCommand)
}

// startForward sends a batch to the current leader. The forward batcher keeps
// one request in flight, so a member's ops reach the leader in order.
func (r *Replica) startForward(ctx context.Context, ops []storage.Op) waitFunc {
	return func() []outcome {
		changed := r.LeaderChanged() // before reading the leader: no change is missed
		leader := r.Leader()
		if leader == "" {
			return failAll(len(ops), ErrNoLeader)()
		}
		if leader == r.cfg.Host.ID() {
			return failAll(len(ops), ErrNotLeader)()
		}
		resp, err := r.forwardOnce(ctx, changed, leader, ops)
		if err == nil && resp.signAgain() {
			// The team signs now and this member had not applied the
			// raise yet (it just started, say): send it again, signed.
			r.fsm.noteRaise(SignProtocol)
			resp, err = r.forwardOnce(ctx, changed, leader, ops)
		}
		if err != nil {
			return failAll(len(ops), err)()
		}
		if resp.Err != "" {
			return failAll(len(ops), codeErr(resp.Code, resp.Err))()
		}
		if len(resp.Results) != len(ops) {
			return failAll(len(ops), fmt.Errorf("leader answered %d results for %d ops", len(resp.Results), len(ops)))()
		}
		outs := make([]outcome, len(ops))
		for i, fr := range resp.Results {
			outs[i] = outcome{res: fr.Res, index: fr.Index}
			if fr.Err != "" {
				outs[i].err = codeErr(fr.Code, fr.Err)
			}
		}
		return outs
	}
}

func (r *Replica) forward(ctx context.Context, leader peer.ID, body []byte) (forwardResponse, error) {
	var resp forwardResponse
	s, err := r.cfg.Host.NewStream(ctx, leader, p2p.ProtoPropose)
	if err != nil {
		return resp, fmt.Errorf("forward to leader %s: %w", leader, err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	// A deadline alone does not see ctx cancelled: reset the stream then.
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := p2p.WriteFrame(s, body); err != nil {
		s.Reset()
		return resp, fmt.Errorf("forward to leader %s: %w", leader, err)
	}
	_ = s.CloseWrite()
	frame, err := p2p.ReadFrame(s, p2p.MaxFrame)
	if err != nil {
		s.Reset()
		return resp, fmt.Errorf("forward to leader %s: %w", leader, err)
	}
	if err := json.Unmarshal(frame, &resp); err != nil {
		return resp, fmt.Errorf("forward to leader %s: bad response: %w", leader, err)
	}
	return resp, nil
}

// codeSignAgain answers an op forwarded unsigned to a team that signs.
const codeSignAgain = "sign_again"

func codeErr(code, msg string) error {
	switch code {
	case codeSignAgain:
		return errSignAgain
	case "refused", "bad_request":
		return fmt.Errorf("%w: %s", ErrRefused, msg)
	case "not_leader":
		return ErrNotLeader
	default:
		return errors.New(msg)
	}
}

func errCode(err error) string {
	switch {
	case errors.Is(err, errSignAgain):
		return codeSignAgain
	case errors.Is(err, ErrRefused):
		return "refused"
	case errors.Is(err, ErrNotLeader):
		return "not_leader"
	default:
		return "unavailable"
	}
}

// Per-peer bounds on the streams served at once (see p2p.Bounded): a
// little above what an honest member uses, so that a member opening
// thousands of streams parks no more than these goroutines, streams and
// Raft config changes. A follower keeps one forward request in flight; a
// leader opens a new Raft stream per RPC (MaxPool 0) and keeps one for
// pipelined appends, and a snapshot takes another; autopilot asks each
// member for its stats one at a time; a voter asks once to hand over its
// seat.
// forwardOnce sends one forward request for ops to leader. A leader that
// froze or was cut off without closing the connection would hold it, and
// the member's whole queue behind it, for the flush timeout, long after the
// team elected another leader: a leader change (changed) ends it. The retry
// carries the same IDs, so what the old leader did commit is dropped as a
// duplicate.
func (r *Replica) forwardOnce(ctx context.Context, changed <-chan struct{}, leader peer.ID, ops []storage.Op) (forwardResponse, error) {
	body, err := r.forwardBody(ops)
	if err != nil {
		return forwardResponse{}, err
	}
	fctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-changed:
			cancel()
		case <-fctx.Done():
		}
	}()
	resp, err := r.forward(fctx, leader, body)
	cancel()
	<-watched
	return resp, err
}

// signAgain reports whether the leader refused every op for now because
// the team signs its ops and they came unsigned.
func (resp forwardResponse) signAgain() bool {
	for _, fr := range resp.Results {
		if fr.Code != codeSignAgain {
			return false
		}
	}
	return len(resp.Results) > 0
}

// forwardBody encodes a forward request for ops, signed (as one group) when
// the command they will ride in is written at protocol 4 or later.
func (r *Replica) forwardBody(ops []storage.Op) ([]byte, error) {
	proto, err := commandProto(r.fsm.teamVersion(), ops)
	if err != nil || proto < SignProtocol {
		return encodeForward(ops, false), nil // the leader reports err
	}
	if err := r.sign.sign(ops); err != nil {
		return nil, err
	}
	return encodeForward(ops, true), nil
}

const (
	maxForwardStreams = 8
	maxRaftStreams    = 64
	maxStatsStreams   = 4
	maxLeaveStreams   = 2
)

// serveForward is the leader's side of /concord/propose/1.0.0.
func (r *Replica) serveForward(s network.Stream) {
	from := s.Conn().RemotePeer()
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(flushTimeout + time.Second))
	reply := func(resp forwardResponse) {
		b, err := json.Marshal(resp)
		if err == nil {
			err = p2p.WriteFrame(s, b)
		}
		if err != nil {
			r.log.Debug("forward reply failed", "peer", from, "err", err)
			s.Reset()
		}
	}
	if !r.cfg.Allow(from) {
		r.log.Warn("forward refused: not a member", "peer", from)
		reply(forwardResponse{Err: "not a member of the team", Code: "refused"})
		return
	}
	frame, err := p2p.ReadFrame(s, p2p.MaxFrame)
	if err != nil {
		r.log.Warn("bad forward request", "peer", from, "err", err)
		reply(forwardResponse{Err: err.Error(), Code: "bad_request"})
		return
	}
	ops, err := decodeForward(frame)
	if err != nil {
		reply(forwardResponse{Err: err.Error(), Code: "bad_request"})
		return
	}
	if r.Leader() != r.cfg.Host.ID() {
		reply(forwardResponse{Err: ErrNotLeader.Error(), Code: "not_leader", Leader: r.Leader().String()})
		return
	}
	results := make([]forwardResult, len(ops))
	var accepted []storage.Op
	var where []int
	for i, err := range r.admitAll(from, ops) {
		if err != nil {
			r.log.Warn("refused forwarded op", "peer", from, "err", err)
			results[i] = forwardResult{Err: err.Error(), Code: "refused"}
			continue
		}
		accepted = append(accepted, ops[i])
		where = append(where, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for j, o := range r.local.submitAll(ctx, accepted) {
		fr := forwardResult{Res: o.res, Index: o.index}
		if o.err != nil {
			fr.Err, fr.Code = o.err.Error(), errCode(o.err)
		}
		results[where[j]] = fr
	}
	reply(forwardResponse{Results: results})
}
