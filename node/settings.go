package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"concord/storage"
)

// Rename commits this member's new display name to the team: its own
// member record again under the new name (OpAddMember by the member itself
// updates its name; role and join time stay).
func (n *Node) Rename(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	self, err := n.store.Member(n.ID().String())
	if err != nil {
		return fmt.Errorf("this member is not in the team's list yet: %w", err)
	}
	if self.Name == name {
		return nil
	}
	self.Name = name
	_, err = n.commit(ctx, storage.Op{Kind: storage.OpAddMember, By: self.ID, Member: &self})
	return err
}

// ValidNTPServer accepts what timesync dials: "host", "host:port" or
// "[v6]:port" (default port 123).
func ValidNTPServer(s string) error {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		return fmt.Errorf("NTP server %q: %v", s, err)
	}
	if host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == '/' }) {
		return fmt.Errorf("NTP server %q: not a host name or address", s)
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("NTP server %q: the port must be a number from 1 to 65535", s)
		}
	}
	return nil
}
