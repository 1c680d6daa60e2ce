// Package consensus replicates Concord's chat log with hashicorp/raft over
// libp2p (go-libp2p-raft's transport). It owns the Raft node, the FSM that
// applies committed entries to storage, group commit (many envelopes in one
// entry), and forwarding: a follower sends proposals to the leader over
// /concord/propose/1.0.0 and learns the outcome. No raft type appears in its
// exported API.
package consensus
