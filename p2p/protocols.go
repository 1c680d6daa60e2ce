package p2p

import "github.com/libp2p/go-libp2p/core/protocol"

// ProtoPropose is the stream protocol a member uses to hand a proposal (a
// command for the replicated log) to the current leader. Each message is one
// frame (see [WriteFrame]).
const ProtoPropose protocol.ID = "/concord/propose/1.0.0"

// ProtoJoin is the stream protocol a new member uses to ask the team to admit
// it. Each message is one frame (see [WriteFrame]).
const ProtoJoin protocol.ID = "/concord/join/1.0.0"

// MaxFrame is the largest frame, in bytes, Concord's stream protocols accept.
// Pass it as the max argument of [ReadFrame].
const MaxFrame = 8 << 20

// ProtoStats is the stream protocol the leader uses to ask a member how far
// its Raft log reaches, so autopilot can tell healthy members from lagging
// ones.
const ProtoStats protocol.ID = "/concord/stats/1.0.0"

// ProtoLeave is the stream protocol a voter that quits cleanly uses to ask
// the leader to hand its seat to a non-voter.
const ProtoLeave protocol.ID = "/concord/leave/1.0.0"

// ProtoDigest is the stream protocol members use to compare their state
// digest chains: the asker writes one frame (a version byte), the answerer
// one frame with its chain (storage.EncodeDigestChain's form).
const ProtoDigest protocol.ID = "/concord/digest/1.0.0"
