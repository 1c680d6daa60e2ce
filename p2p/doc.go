// Package p2p is Concord's networking layer: it owns the member's libp2p
// host and nothing above it (no Raft, no chat semantics).
//
// A Concord member is identified by a persistent Ed25519 key stored in its
// data directory (see [LoadIdentity]). [New] builds a libp2p host tuned for a
// small, trusted team on a LAN: TCP transport only, Noise security, yamux
// multiplexing, no relays, no NAT traversal, and a resource manager whose
// per-IP connection limits are lifted so that a whole team sitting behind one
// /24 (or on one machine) is never cut off.
//
// The team is the set of peers the member must stay connected to (the Raft
// voters, typically). [Host.SetTeam] protects those peers in the connection
// manager and starts a background loop per peer that redials it with
// exponential backoff whenever it is not connected. The addresses of team
// peers are cached in dataDir/peers.json so that a restarted member finds the
// team again without anyone typing an address.
//
// On a LAN, members also find each other with no address typed:
// [Host.StartDiscovery] announces the host over multicast DNS under a
// per-team service name ([ServiceName]) and reports the peers it hears;
// the caller decides whom to add.
//
// Concord's own stream protocols ([ProtoPropose], [ProtoJoin] and most of
// the others; [Protocols] lists every one a member speaks) exchange
// length-prefixed frames, see [WriteFrame] and [ReadFrame].
package p2p
