package p2p

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/libp2p/zeroconf/v2"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Team hints: every member announces its team's name on the LAN under one
// DNS-SD service that all Concord teams share, so a newcomer's welcome
// screen can say which teams are nearby and whom to ask for an invite.
// A hint carries the name and a tag telling apart two teams of one name,
// nothing that admits anyone: joining still takes an invite code. Members
// find each other under their team's own service (ServiceName), not this.

// TeamHintService is the DNS-SD service team hints are announced under.
const TeamHintService = "_concord._udp"

// maxHintName bounds the team name in a hint (a TXT string holds 255 bytes).
const maxHintName = 200

// TeamHint is one team seen on the LAN.
type TeamHint struct {
	Name    string // the team's name
	Tag     string // 7 hex digits derived from the team ID (as in ServiceName)
	Members int    // members seen announcing it
}

// TeamTag returns the tag of team teamID in hints: the 7 hex digits of its
// ServiceName, which do not reveal the ID.
func TeamTag(teamID string) string {
	return strings.TrimSuffix(strings.TrimPrefix(ServiceName(teamID), "_concord-"), "._udp")
}

// Announcement is a team hint announced by [Host.AnnounceTeam]. It stops
// with Close or with the Host's Close, whichever comes first.
type Announcement struct {
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// AnnounceTeam announces this member's team name on the LAN (when the host
// has a LAN address; it follows address changes like discovery does).
func (hs *Host) AnnounceTeam(teamID, name string) (*Announcement, error) {
	text := hintText(TeamTag(teamID), name)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.closed {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(hs.runCtx)
	a := &Announcement{cancel: cancel, done: make(chan struct{})}
	hs.wg.Add(1)
	go func() {
		defer hs.wg.Done()
		defer close(a.done)
		hs.announce(ctx, text, hs.log.With("service", TeamHintService))
	}()
	return a, nil
}

// Close stops announcing and waits until the announcement is withdrawn.
// It is idempotent and always returns nil.
func (a *Announcement) Close() error {
	a.closeOnce.Do(func() {
		a.cancel()
		<-a.done
	})
	return nil
}

// hintText is a hint's TXT record: version, tag and the name, cut to
// maxHintName bytes on a rune boundary.
func hintText(tag, name string) []string {
	for len(name) > maxHintName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return []string{"v=1", "tag=" + tag, "team=" + name}
}

// announce runs the DNS-SD responder until ctx ends, restarting it when the
// host's LAN addresses change.
func (hs *Host) announce(ctx context.Context, text []string, log *slog.Logger) {
	f := lanFollower{hs: hs, log: log, start: func(addrs []ma.Multiaddr) (func(), error) {
		ips, port := hintEndpoint(addrs)
		if len(ips) == 0 {
			return nil, errors.New("no IP address among the LAN addresses")
		}
		instance := hs.ID().String()
		s, err := zeroconf.RegisterProxy(instance, TeamHintService, "local.", port, instance, ips, text, nil)
		if err != nil {
			return nil, err
		}
		return s.Shutdown, nil
	}}
	defer f.close()
	f.refresh()
	tick := time.NewTicker(discoveryRecheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f.refresh()
		}
	}
}

// hintEndpoint returns the IPs of addrs and the first one's TCP port.
func hintEndpoint(addrs []ma.Multiaddr) (ips []string, port int) {
	for _, a := range addrs {
		na, err := manet.ToNetAddr(a)
		ta, ok := na.(*net.TCPAddr)
		if err != nil || !ok {
			continue
		}
		if port == 0 {
			port = ta.Port
		}
		if ip := ta.IP.String(); !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	return ips, port
}

// BrowseTeams looks for team hints on the LAN until ctx ends, calling found
// (from one goroutine) with every team seen so far, sorted by name,
// whenever that list changes. It needs no Host: a newcomer has none yet.
func BrowseTeams(ctx context.Context, found func([]TeamHint)) error {
	entries := make(chan *zeroconf.ServiceEntry)
	done := make(chan struct{})
	go func() {
		defer close(done)
		teams := map[string]*TeamHint{}         // by tag
		members := map[string]map[string]bool{} // tag → instances
		for e := range entries {                // closed by Browse when ctx ends
			tag, name, ok := parseHint(e.Text)
			if !ok || members[tag][e.Instance] {
				continue
			}
			if teams[tag] == nil {
				teams[tag], members[tag] = &TeamHint{Name: name, Tag: tag}, map[string]bool{}
			}
			members[tag][e.Instance] = true
			teams[tag].Members = len(members[tag])
			list := make([]TeamHint, 0, len(teams))
			for _, t := range teams {
				list = append(list, *t)
			}
			slices.SortFunc(list, func(a, b TeamHint) int {
				return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Tag, b.Tag))
			})
			found(list)
		}
	}()
	err := zeroconf.Browse(ctx, TeamHintService, "local.", entries)
	// Browse closes entries once it has started; if it failed before that,
	// nobody will. Nothing is sent on it any more, so a receive tells which.
	select {
	case <-entries:
	default:
		close(entries)
	}
	<-done
	if err != nil {
		return fmt.Errorf("p2p: looking for teams on the LAN: %w", err)
	}
	return nil
}

// parseHint reads a hint's TXT record; ok is false for anything else.
func parseHint(text []string) (tag, name string, ok bool) {
	var v string
	for _, kv := range text {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "v":
			v = val
		case "tag":
			tag = val
		case "team":
			name = val
		}
	}
	if v != "1" || len(tag) != 7 || strings.TrimSpace(name) == "" || !utf8.ValidString(name) {
		return "", "", false
	}
	return tag, name, true
}
