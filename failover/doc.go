// Package failover will hold liveness probes over libp2p streams, the
// healthy-peer set, leader tracking and the outbox drainer. It declares the
// small interfaces it needs instead of importing consensus.
package failover
