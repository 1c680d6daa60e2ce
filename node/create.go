package node

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Create makes a new team with one member in cfg.Dir, which must not hold
// a member yet: it writes config.json (the team's name, this member's name,
// cfg.Listen and cfg.NTP), bootstraps the team, commits its first member (an
// admin) and #general, records the port the OS picked, and stops. Open
// starts it. On failure config.json is removed, so a retry starts over.
func Create(ctx context.Context, cfg Config, team, name string) (memberID string, err error) {
	if err := ValidName(name); err != nil {
		return "", fmt.Errorf("%w: name: %v", ErrInvalid, err)
	}
	if err := ensureNewDataDir(cfg.Dir); err != nil {
		return "", err
	}
	conf := newTeamConfig(team, name, cfg.Listen, cfg.NTP)
	if err := SaveConfig(cfg.Dir, conf); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(configPath(cfg.Dir)) // let a retry start over
		}
	}()
	return initMember(ctx, cfg, conf)
}

// initMember bootstraps the new team, commits its first member and
// #general, and records the port the OS picked.
func initMember(ctx context.Context, cfg Config, conf MemberConfig) (string, error) {
	n, err := Open(ctx, cfg)
	if err != nil {
		return "", err
	}
	if err := n.initTeam(ctx); err != nil {
		return "", errors.Join(err, n.Close())
	}
	conf.Listen = n.boundListen()
	if err := SaveConfig(cfg.Dir, conf); err != nil {
		return "", errors.Join(err, n.Close())
	}
	return n.ID().String(), n.Close()
}

// HasMember reports whether dir holds a member (its config.json).
func HasMember(dir string) bool {
	_, err := os.Stat(configPath(dir))
	return err == nil
}
