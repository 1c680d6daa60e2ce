package p2p

import (
	"errors"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"minimal", Config{DataDir: "d"}, false},
		{"explicit", Config{DataDir: "d", Listen: []string{"/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/0"}, ConnLow: 10, ConnHigh: 20}, false},
		{"no data dir", Config{}, true},
		{"bad multiaddr", Config{DataDir: "d", Listen: []string{"not-an-addr"}}, true},
		{"quic not supported", Config{DataDir: "d", Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}}, true},
		{"websocket not supported", Config{DataDir: "d", Listen: []string{"/ip4/127.0.0.1/tcp/0/ws"}}, true},
		{"negative watermark", Config{DataDir: "d", ConnLow: -1, ConnHigh: 10}, true},
		{"only one watermark", Config{DataDir: "d", ConnHigh: 10}, true},
		{"high below low", Config{DataDir: "d", ConnLow: 20, ConnHigh: 10}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want it to wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{DataDir: "d"}.withDefaults()
	if len(c.Listen) != 1 || c.Listen[0] != DefaultListenAddr {
		t.Errorf("Listen = %v, want [%s]", c.Listen, DefaultListenAddr)
	}
	if c.ConnLow != DefaultConnLow || c.ConnHigh != DefaultConnHigh {
		t.Errorf("watermarks = %d/%d, want %d/%d", c.ConnLow, c.ConnHigh, DefaultConnLow, DefaultConnHigh)
	}
	if c.Logger == nil {
		t.Error("Logger is nil")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(t.Context(), Config{DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New() error = %v, want ErrInvalidConfig", err)
	}
}
