//go:build !headless

package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"concord/app"
	"concord/storage"
)

// Rename commits this member's new display name to the team: its own
// member record again under the new name (OpAddMember by the member itself
// updates its name; role and join time stay).
func (n *Node) Rename(ctx context.Context, name string) error {
	if err := validMemberName(name); err != nil {
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

// validNTPServer accepts what timesync dials: "host", "host:port" or
// "[v6]:port" (default port 123).
func validNTPServer(s string) error {
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

// Settings implements app.Backend.
func (b *guiBackend) Settings(ctx context.Context) (app.Settings, error) {
	conf, err := loadConfig(b.dir)
	if err != nil {
		return app.Settings{}, err
	}
	dir, err := filepath.Abs(b.dir)
	if err != nil {
		dir = b.dir
	}
	s := app.Settings{Name: conf.Name, NTP: conf.NTP, DataDir: dir}
	if n, err := b.node(); err == nil {
		if m, err := n.store.Member(n.ID().String()); err == nil {
			s.Name = m.Name // the team's record is the truth
		}
	}
	return s, nil
}

// SaveSettings implements app.Backend: the name goes to the team first
// (it can fail without quorum), then both go to config.json.
func (b *guiBackend) SaveSettings(ctx context.Context, s app.Settings) error {
	name := strings.TrimSpace(s.Name)
	if err := validMemberName(name); err != nil {
		return fmt.Errorf("display name: %v", err)
	}
	for _, srv := range s.NTP {
		if err := validNTPServer(srv); err != nil {
			return err
		}
	}
	n, err := b.node()
	if err != nil {
		return err
	}
	if err := n.Rename(ctx, name); err != nil {
		return fmt.Errorf("could not rename: %w", err)
	}
	b.confMu.Lock()
	defer b.confMu.Unlock()
	conf, err := loadConfig(b.dir)
	if err != nil {
		return err
	}
	conf.Name, conf.NTP = name, s.NTP
	return saveConfig(b.dir, conf)
}
