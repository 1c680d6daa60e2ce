//go:build !headless

package backend

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"concord/app"
	"concord/node"
)

// Settings implements app.Backend.
func (b *Backend) Settings(ctx context.Context) (app.Settings, error) {
	conf, err := node.LoadConfig(b.dir)
	if err != nil {
		return app.Settings{}, err
	}
	dir, err := filepath.Abs(b.dir)
	if err != nil {
		dir = b.dir
	}
	s := app.Settings{Name: conf.Name, NTP: conf.NTP, DataDir: dir}
	if n, err := b.node(); err == nil {
		s.Name = n.Name() // the team's record is the truth
	}
	return s, nil
}

// SaveSettings implements app.Backend: the name goes to the team first
// (it can fail without quorum), then both go to config.json.
func (b *Backend) SaveSettings(ctx context.Context, s app.Settings) error {
	name := strings.TrimSpace(s.Name)
	if err := node.ValidName(name); err != nil {
		return fmt.Errorf("display name: %v", err)
	}
	for _, srv := range s.NTP {
		if err := node.ValidNTPServer(srv); err != nil {
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
	conf, err := node.LoadConfig(b.dir)
	if err != nil {
		return err
	}
	conf.Name, conf.NTP = name, s.NTP
	return node.SaveConfig(b.dir, conf)
}
