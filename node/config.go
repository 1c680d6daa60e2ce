package node

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"concord/diskspace"
	"concord/internal/durable"
	"concord/p2p"
	"concord/version"
)

// MemberConfig is what a data dir remembers about its member and team
// (DATA/config.json). The chat state itself lives in state.db and the Raft
// log under raft/.
type MemberConfig struct {
	Version  int      `json:"version"`
	TeamID   string   `json:"team_id"`
	TeamName string   `json:"team_name"`
	Name     string   `json:"name"`
	Listen   []string `json:"listen"`
	// NTP lists the NTP servers (host or host:port); empty means the
	// defaults (public pools). `run --ntp` overrides it.
	NTP []string `json:"ntp,omitempty"`
	// Creator marks the member that founded the team: it bootstraps the
	// Raft cluster (once; a restart finds existing state and skips it).
	Creator bool `json:"creator,omitempty"`
	// NetworkKey is the team's private-network key (hex): every member's
	// host encrypts its connections with it, so outsiders cannot connect.
	NetworkKey string `json:"network_key"`
	// Voters is how many voters autopilot keeps when enough members are
	// online: 3 (the default) or 5.
	Voters int `json:"voters,omitempty"`
	// Seeds are the members known when this member joined: the only peers
	// it admits until its own copy of the member list arrives.
	Seeds []string `json:"seeds,omitempty"`
	// Release is the newest release that has run this member: an older
	// one refuses the data dir (its files may be in a newer form).
	Release string `json:"release,omitempty"`
	// UpgradeWindowDays is how recently a member must have been seen to
	// hold back a raise of the team version (0: 14 days; voters always do).
	UpgradeWindowDays int `json:"upgrade_window_days,omitempty"`
	// HideFromLAN stops this member announcing the team's name on the LAN
	// (the hint a newcomer's welcome screen lists). Members still find
	// each other under the team's own, unnamed service.
	HideFromLAN bool `json:"hide_from_lan,omitempty"`
	// AutoFetchMB is the largest attachment, in MB, this member fetches on
	// its own (so files survive their author going offline): 0 means the
	// default, 10; a negative number, never.
	AutoFetchMB int `json:"auto_fetch_mb,omitempty"`
	// DiskLowMB is the free space, in MB, below which this member warns
	// that its disk is low: 0 means the default, the smaller of 200 MB and
	// 2 % of the filesystem; a positive number is used as it is. Below
	// 16 MB the disk counts as full and new sends are refused whatever
	// this says.
	DiskLowMB int `json:"disk_low_mb,omitempty"`
}

// diskConfig is the free-space watcher's config for the data dir dir.
func (c MemberConfig) diskConfig(dir string) diskspace.Config {
	dc := diskspace.Config{Path: dir}
	if c.DiskLowMB > 0 {
		dc.LowBytes, dc.LowPercent = uint64(c.DiskLowMB)<<20, -1
	}
	return dc
}

// upgradeWindow is UpgradeWindowDays as a duration.
func (c MemberConfig) upgradeWindow() time.Duration {
	return time.Duration(cmp.Or(c.UpgradeWindowDays, 14)) * 24 * time.Hour
}

// autoFetchLimit is the largest file, in bytes, this member fetches
// without being asked; negative: none.
func (c MemberConfig) autoFetchLimit() int64 {
	switch {
	case c.AutoFetchMB < 0:
		return -1
	case c.AutoFetchMB == 0:
		return autoFetchBytes
	}
	return int64(c.AutoFetchMB) << 20
}

// configVersion 2 added the network key; a version 1 dir (pre-release)
// cannot join a private network and is refused with a clear error.
const configVersion = 2

// newTeamConfig is the config of a new team's founder: a random team ID
// and network key.
func newTeamConfig(team, name string, listen, ntp []string) MemberConfig {
	var id [16]byte
	key := make([]byte, p2p.PSKSize)
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(key)
	return MemberConfig{TeamID: hex.EncodeToString(id[:]), TeamName: cmp.Or(strings.TrimSpace(team), name+"'s team"),
		Name: name, Listen: listen, Creator: true, NTP: ntp, NetworkKey: hex.EncodeToString(key), Release: version.Release}
}

// networkKey decodes NetworkKey.
func (c MemberConfig) networkKey() ([]byte, error) {
	k, err := hex.DecodeString(c.NetworkKey)
	if err != nil || len(k) != p2p.PSKSize {
		return nil, fmt.Errorf("the team's network key in config.json is damaged")
	}
	return k, nil
}

func configPath(dir string) string { return filepath.Join(dir, "config.json") }

// LoadConfig reads dir's config.json; ErrNoDataDir when there is none.
func LoadConfig(dir string) (MemberConfig, error) {
	var c MemberConfig
	b, err := os.ReadFile(configPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("%s: %w (run `concord init` or `concord join` first)", dir, ErrNoDataDir)
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is corrupt: %w", configPath(dir), err)
	}
	if c.Version != configVersion || c.TeamID == "" || c.Name == "" || c.NetworkKey == "" {
		return c, fmt.Errorf("%s is corrupt or from another version (version %d)", configPath(dir), c.Version)
	}
	if c.DiskLowMB < 0 {
		return c, fmt.Errorf("%s: disk_low_mb must be 0 (the default) or more, not %d", configPath(dir), c.DiskLowMB)
	}
	if c.Voters != 0 && c.Voters != 3 && c.Voters != 5 {
		return c, fmt.Errorf("%s: voters must be 3 or 5, not %d", configPath(dir), c.Voters)
	}
	return c, nil
}

// SaveConfig writes the config atomically: a crash leaves the old or the new
// file, never half of one.
func SaveConfig(dir string, c MemberConfig) error {
	c.Version = configVersion
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(configPath(dir), append(b, '\n'), 0o600)
}

// ensureNewDataDir makes dir, refusing one that already holds a member.
func ensureNewDataDir(dir string) error {
	if dir == "" {
		return errors.New("--data is required")
	}
	if _, err := os.Stat(configPath(dir)); err == nil {
		return fmt.Errorf("%s: %w; use another --data", dir, ErrDataDirInUse)
	}
	return os.MkdirAll(dir, 0o700)
}

// claimDataDir refuses a data dir a newer release has run, and records
// this release as the newest that has, before anything else is opened: a
// release never downgrades a member's files, and an older one changes
// nothing in them.
func claimDataDir(dir string, c MemberConfig) (MemberConfig, error) {
	switch version.Compare(c.Release, version.Release) {
	case 1:
		return c, fmt.Errorf("%w: this data dir was used by Concord %s; this is %s: install %s or later",
			ErrNewerDataDir, c.Release, version.Release, c.Release)
	case 0:
		if c.Release != "" {
			return c, nil
		}
	}
	c.Release = version.Release
	return c, SaveConfig(dir, c)
}
