package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestValidChannelName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"general", true},
		{"a", true},
		{"0day", true},
		{"team-a_b-2", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"-lead", false},
		{"_lead", false},
		{"Upper", false},
		{"with space", false},
		{"dot.name", false},
		{"ünï", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidChannelName(tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidChannelName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidChannelName) {
				t.Fatalf("err %v does not wrap ErrInvalidChannelName", err)
			}
		})
	}
}

func TestValidateEnvelope(t *testing.T) {
	good := Envelope{ID: "id", Author: "peer", Channel: "general", Text: "hello ✓"}
	tests := []struct {
		name   string
		modify func(*Envelope)
		ok     bool
	}{
		{"good", func(*Envelope) {}, true},
		{"max id", func(e *Envelope) { e.ID = strings.Repeat("i", MaxIDBytes) }, true},
		{"max text", func(e *Envelope) { e.Text = strings.Repeat("t", MaxTextBytes) }, true},
		{"empty id", func(e *Envelope) { e.ID = "" }, false},
		{"long id", func(e *Envelope) { e.ID = strings.Repeat("i", MaxIDBytes+1) }, false},
		{"empty author", func(e *Envelope) { e.Author = "" }, false},
		{"bad channel", func(e *Envelope) { e.Channel = "No" }, false},
		{"empty text", func(e *Envelope) { e.Text = "" }, false},
		{"long text", func(e *Envelope) { e.Text = strings.Repeat("t", MaxTextBytes+1) }, false},
		{"invalid utf8", func(e *Envelope) { e.Text = "ok\xc3" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := good
			tc.modify(&e)
			err := ValidateEnvelope(e)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateEnvelope = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidEnvelope) {
				t.Fatalf("err %v does not wrap ErrInvalidEnvelope", err)
			}
		})
	}
}
