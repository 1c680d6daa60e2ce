package consensus

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"concord/p2p"
)

// Autopilot settings. Stabilization is how long a member must stay healthy
// before it may be promoted (Timing.Stabilization overrides it).
const (
	defaultStabilization = 10 * time.Second
	lastContactLimit     = 3 * time.Second // a follower silent longer is unhealthy
	maxTrailingLogs      = 500             // a follower further behind is unhealthy
	statsTimeout         = time.Second
)

// pilot is hashicorp/raft-autopilot's view of the team: it runs while this
// member leads, promotes stable members up to MaxVoters voters and retires
// voters that stay dead, as long as quorum allows.
type pilot struct {
	r    *Replica
	ap   *autopilot.Autopilot
	mu   sync.Mutex
	last *autopilot.State
}

var _ autopilot.ApplicationIntegration = (*pilot)(nil)

func newPilot(r *Replica) *pilot {
	p := &pilot{r: r}
	promoter := &capPromoter{target: r.cfg.MaxVoters, now: time.Now}
	p.ap = autopilot.New(r.raft, p,
		autopilot.WithLogger(newHclog(r.log, "autopilot")),
		autopilot.WithPromoter(promoter),
		autopilot.WithUpdateInterval(500*time.Millisecond),
		autopilot.WithReconcileInterval(time.Second))
	return p
}

// AutopilotConfig implements autopilot.ApplicationIntegration.
func (p *pilot) AutopilotConfig() *autopilot.Config {
	stab := p.r.cfg.Timing.Stabilization
	if stab == 0 {
		stab = defaultStabilization
	}
	return &autopilot.Config{
		CleanupDeadServers:      true,
		LastContactThreshold:    lastContactLimit,
		MaxTrailingLogs:         maxTrailingLogs,
		MinQuorum:               uint(min(p.r.cfg.MaxVoters, 3)),
		ServerStabilizationTime: stab,
	}
}

// NotifyState implements autopilot.ApplicationIntegration.
func (p *pilot) NotifyState(s *autopilot.State) {
	p.mu.Lock()
	p.last = s
	p.mu.Unlock()
}

// KnownServers implements autopilot.ApplicationIntegration: the team's
// members, alive when this member's probes reach them.
func (p *pilot) KnownServers() map[raft.ServerID]*autopilot.Server {
	members, err := p.r.cfg.Store.Members()
	if err != nil {
		return nil
	}
	out := make(map[raft.ServerID]*autopilot.Server, len(members))
	self := p.r.cfg.Host.ID().String()
	for _, m := range members {
		st := autopilot.NodeFailed
		if m.ID == self || p.r.online(m.ID) {
			st = autopilot.NodeAlive
		}
		id := raft.ServerID(m.ID)
		// NodeType matters: autopilot counts only potential voters when it
		// decides whether retiring a dead voter is safe.
		out[id] = &autopilot.Server{ID: id, Name: m.Name, Address: raft.ServerAddress(m.ID), NodeStatus: st,
			IsLeader: m.ID == self, NodeType: autopilot.NodeVoter}
	}
	return out
}

// RemoveFailedServer implements autopilot.ApplicationIntegration: a member
// that stays offline leaves the Raft configuration (not the team); it is
// added back as a non-voter when it returns.
func (p *pilot) RemoveFailedServer(srv *autopilot.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	p.r.changeConfig(ctx, "retire failed server", string(srv.ID), p.r.raft.RemoveServer(srv.ID, 0, flushTimeout))
}

// FetchServerStats implements autopilot.ApplicationIntegration: this
// member's own Raft stats, and each other member's over ProtoStats.
func (p *pilot) FetchServerStats(ctx context.Context, servers map[raft.ServerID]*autopilot.Server) map[raft.ServerID]*autopilot.ServerStats {
	out := make(map[raft.ServerID]*autopilot.ServerStats, len(servers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	self := raft.ServerID(p.r.cfg.Host.ID().String())
	for id, srv := range servers {
		if id == self {
			mu.Lock() // the fetches below write to out concurrently
			out[id] = localStats(p.r.raft)
			mu.Unlock()
			continue
		}
		if srv.NodeStatus != autopilot.NodeAlive {
			continue
		}
		pid, err := peer.Decode(string(id))
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := p.r.fetchStats(ctx, pid); err == nil {
				mu.Lock()
				out[id] = st
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// state is autopilot's last view of the team, nil when this member does
// not lead.
func (p *pilot) state() *autopilot.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// statsReply is the answer on ProtoStats.
type statsReply struct {
	Term        uint64 `json:"term"`
	LastIndex   uint64 `json:"last_index"`
	LastContact int64  `json:"last_contact_ns"` // -1: never heard a leader
	// Handed is the newest committed entry the answerer has handed to its
	// state store (Replica.Handed); 0 from a release that does not say.
	Handed uint64 `json:"handed,omitempty"`
}

func localStats(ra *raft.Raft) *autopilot.ServerStats {
	st := ra.Stats()
	term, _ := strconv.ParseUint(st["last_log_term"], 10, 64)
	idx, _ := strconv.ParseUint(st["last_log_index"], 10, 64)
	return &autopilot.ServerStats{LastTerm: term, LastIndex: idx}
}

func (r *Replica) serveStats(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(statsTimeout))
	own := localStats(r.raft)
	rep := statsReply{Term: own.LastTerm, LastIndex: own.LastIndex, LastContact: -1, Handed: r.Handed()}
	if lc := r.raft.LastContact(); !lc.IsZero() {
		rep.LastContact = int64(time.Since(lc))
	}
	b, _ := json.Marshal(rep)
	if err := p2p.WriteFrame(s, b); err != nil {
		_ = s.Reset()
	}
}

func (r *Replica) fetchStats(ctx context.Context, id peer.ID) (*autopilot.ServerStats, error) {
	rep, err := r.askStats(ctx, id)
	if err != nil {
		return nil, err
	}
	return &autopilot.ServerStats{LastTerm: rep.Term, LastIndex: rep.LastIndex, LastContact: time.Duration(rep.LastContact)}, nil
}

// askStats asks member id its stats over ProtoStats.
func (r *Replica) askStats(ctx context.Context, id peer.ID) (statsReply, error) {
	var rep statsReply
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	s, err := r.cfg.Host.NewStream(ctx, id, p2p.ProtoStats)
	if err != nil {
		return rep, err
	}
	defer s.Close()
	deadline := time.Now().Add(statsTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.SetDeadline(deadline)
	b, err := p2p.ReadFrame(s, 1024)
	if err != nil {
		_ = s.Reset()
		return rep, err
	}
	err = json.Unmarshal(b, &rep)
	return rep, err
}

// LeaderHanded asks the leader how far it has handed the committed log to
// its state store: once this member's store has applied that index
// (WaitApplied), it holds everything the team had committed when the
// leader answered, give or take an entry the leader was handing over at
// that instant. A member that does not find something in its store (a
// channel) asks this before it concludes that the team has none. It is
// ErrNoLeader when no leader is known, and an error when the leader cannot
// be reached within ctx or does not say (an older release).
func (r *Replica) LeaderHanded(ctx context.Context) (uint64, error) {
	leader := r.Leader()
	switch leader {
	case "":
		return 0, ErrNoLeader
	case r.cfg.Host.ID():
		return r.Handed(), nil
	}
	rep, err := r.askStats(ctx, leader)
	if err != nil {
		return 0, fmt.Errorf("ask the leader %s how far it applied: %w", leader, err)
	}
	if rep.Handed == 0 {
		return 0, fmt.Errorf("the leader %s does not say how far it applied (an older release)", leader)
	}
	return rep.Handed, nil
}

// Healthy reports, while this member leads, since when each member has
// been healthy in autopilot's eyes (absent: not healthy, or not leading).
func (r *Replica) Healthy() map[string]time.Time {
	s := r.pilot.state()
	out := map[string]time.Time{}
	if s == nil || r.raft.State() != raft.Leader {
		return out
	}
	for id, srv := range s.Servers {
		if srv.Health.Healthy {
			out[string(id)] = srv.Health.StableSince
		}
	}
	return out
}
