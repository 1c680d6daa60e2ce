package failover

import (
	"concord/storage"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Consistency states, of this member and of each peer compared with.
const (
	ConsistencyOK       = "ok"
	ConsistencyDiverged = "diverged"
	ConsistencyUnknown  = "unknown"
)

// Consistency is what the last round of digest comparisons found.
type Consistency struct {
	// State is ConsistencyOK when this member agrees with most of the
	// peers it compared with (so a minority of peers may still differ:
	// see Peers), ConsistencyDiverged when it differs from most of them
	// (with a single peer compared, both see themselves so: there is no
	// majority), ConsistencyUnknown when it compared with none.
	State string
	// CheckedIndex is the newest index compared with any peer; 0: none.
	CheckedIndex uint64
	// DivergedAt is the earliest index at which this member is known to
	// differ from the peers it disagrees with, while State is diverged; 0
	// otherwise. The divergence happened there or earlier.
	DivergedAt uint64
	// Peers are the peers of the last round, in the order asked.
	Peers []PeerConsistency
}

// PeerConsistency is the comparison with one peer.
type PeerConsistency struct {
	ID peer.ID
	// State is ConsistencyOK (same digest at CheckedIndex),
	// ConsistencyDiverged (different from DivergedAt on) or
	// ConsistencyUnknown (see Reason).
	State        string
	CheckedIndex uint64
	DivergedAt   uint64
	Reason       string // why unknown; "" otherwise
}

// compareChains compares two chains at the newest index both hold. ok is
// false, with a reason, when they cannot be compared: either has no chain
// yet, they are of other versions or started at other indexes (a member
// upgraded in place starts its chain where it was), or their kept rings do
// not overlap (one is far behind). When they differ at, divergedAt is the
// earliest index in the overlap where they do.
func compareChains(local, remote storage.DigestChain) (at, divergedAt uint64, ok bool, reason string) {
	switch {
	case !local.Known() || !remote.Known():
		return 0, 0, false, "no digest yet"
	case local.Version != remote.Version:
		return 0, 0, false, "other digest version"
	case local.Base != remote.Base:
		return 0, 0, false, "digest chains start at different indexes"
	}
	at = min(local.Applied, remote.Applied)
	from := max(local.From(), remote.From())
	if at == 0 || at < from {
		return 0, 0, false, "no common index"
	}
	l, _ := local.At(at)
	r, _ := remote.At(at)
	if l == r {
		return at, 0, true, ""
	}
	// The chains change only at their ring indexes, and once different
	// stay different: the first ring index in the overlap where they
	// differ is where they part (or the overlap's start, if it already
	// differs there).
	divergedAt = at
	for _, c := range []storage.DigestChain{local, remote} {
		for _, p := range c.Ring {
			if p.Index < from || p.Index >= divergedAt {
				continue
			}
			l, _ := local.At(p.Index)
			r, _ := remote.At(p.Index)
			if l != r {
				divergedAt = p.Index
			}
		}
	}
	if l, _ := local.At(from); from < divergedAt {
		if r, _ := remote.At(from); l != r {
			divergedAt = from
		}
	}
	return at, divergedAt, true, ""
}

// verdict sums up one round: this member diverged if it differs from more
// of the peers it compared with than it agrees with.
func verdict(peers []PeerConsistency) Consistency {
	c := Consistency{State: ConsistencyUnknown, Peers: peers}
	agree, differ := 0, 0
	for _, p := range peers {
		switch p.State {
		case ConsistencyOK:
			agree++
		case ConsistencyDiverged:
			differ++
			if c.DivergedAt == 0 || p.DivergedAt < c.DivergedAt {
				c.DivergedAt = p.DivergedAt
			}
		default:
			continue
		}
		c.CheckedIndex = max(c.CheckedIndex, p.CheckedIndex)
	}
	switch {
	case agree+differ == 0:
	case differ > agree:
		c.State = ConsistencyDiverged
	default:
		c.State = ConsistencyOK
		c.DivergedAt = 0
	}
	return c
}
