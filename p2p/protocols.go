package p2p

import "github.com/libp2p/go-libp2p/core/protocol"

// Every libp2p stream protocol a Concord member speaks is declared here, so
// that one list ([Protocols]) can be checked against docs/protocol.md and
// no package invents an ID of its own.

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
// ones; a member asks the leader the same to learn how far the team is.
const ProtoStats protocol.ID = "/concord/stats/1.0.0"

// ProtoLeave is the stream protocol a voter that quits cleanly uses to ask
// the leader to hand its seat to a non-voter.
const ProtoLeave protocol.ID = "/concord/leave/1.0.0"

// ProtoDigest is the stream protocol members use to compare their state
// digest chains: the asker writes one frame (a version byte), the answerer
// one frame with its chain (storage.EncodeDigestChain's form).
const ProtoDigest protocol.ID = "/concord/digest/1.0.0"

// ProtoProbe is the liveness probe stream protocol (package failover): the
// prober writes frames of an 8-byte nonce and the responder echoes each one
// back unchanged; the stream stays open for the next probe.
const ProtoProbe protocol.ID = "/concord/probe/1.0.0"

// ProtoTime carries peer time: the asker writes T1 and the answerer T1, T2,
// T3 and a flags byte (timesync.PeerQuery, timesync.PeerAnswer), several
// exchanges per stream.
const ProtoTime protocol.ID = "/concord/time/1.0.0"

// ProtoRemoved carries a removal notice: a member still connected to a
// member the team just removed writes it one frame, JSON {team, by, at},
// before disconnecting it.
const ProtoRemoved protocol.ID = "/concord/removed/1.0.0"

// ProtoBlob carries an attachment's bytes: the asker writes one frame, the
// file's SHA-256 (hex); the answerer one frame, JSON {size} or {err}, then
// the bytes.
const ProtoBlob protocol.ID = "/concord/blob/1.0.0"

// ProtoRaft carries Raft's RPCs (hashicorp/raft's NetworkTransport over
// libp2p streams). The ID is fixed by go-libp2p-raft (its RaftProtocol),
// which registers it; it is declared here to be listed, not to be changed.
const ProtoRaft protocol.ID = "/raft/1.0.0/rpc"

// ProtoVersion asks a member which release it runs: the asker opens the
// stream and reads one frame, JSON {release, protocol_min, protocol_max}.
const ProtoVersion protocol.ID = "/concord/version/1.0.0"

// Protocols returns the ID of every stream protocol a member speaks.
func Protocols() []protocol.ID {
	return []protocol.ID{ProtoPropose, ProtoJoin, ProtoStats, ProtoLeave, ProtoDigest,
		ProtoProbe, ProtoTime, ProtoRemoved, ProtoBlob, ProtoRaft, ProtoVersion}
}
