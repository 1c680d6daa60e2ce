package consensus

import (
	"errors"
	"testing"
	"time"

	"concord/storage"
)

func TestCommandRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	in := command{CommittedAt: at, Ops: []storage.Op{
		{Kind: storage.OpCreateChannel, Channel: "dev"},
		{Kind: storage.OpMessage, Message: &storage.Envelope{ID: "a", Author: "p", Channel: "dev", Text: "hi", SentAt: at}},
		{Kind: storage.OpAddMember, Member: &storage.Member{ID: "p", Name: "ann", Role: storage.RoleAdmin}},
	}}
	b, err := encodeCommand(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !out.CommittedAt.Equal(at) || len(out.Ops) != 3 || out.Ops[1].Message.Text != "hi" || out.Ops[2].Member.Name != "ann" {
		t.Fatalf("round trip changed the command: %+v", out)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown version", []byte{9, '{', '}'}},
		{"not json", []byte{commandVersion, 'x'}},
		{"unknown field", []byte("\x01{\"t\":\"2026-01-01T00:00:00Z\",\"zzz\":1}")},
		{"unknown op", []byte("\x01{\"ops\":[{\"k\":77}]}")},
		{"message op without message", []byte("\x01{\"ops\":[{\"k\":1}]}")},
		{"member op without id", []byte("\x01{\"ops\":[{\"k\":3,\"p\":{}}]}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeCommand(tt.in); !errors.Is(err, ErrBadCommand) {
				t.Fatalf("decodeCommand(%q) = %v, want ErrBadCommand", tt.in, err)
			}
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	b, _ := encodeCommand(command{Ops: []storage.Op{{Kind: storage.OpCreateChannel, Channel: "x"}}})
	f.Add(b)
	f.Add([]byte{commandVersion})
	f.Add([]byte("\x01{\"ops\":[{\"k\":1,\"m\":{\"id\":\"\"}}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error not wrapping ErrBadCommand: %v", err)
			}
			return
		}
		// Whatever decodes must survive a round trip unchanged in shape.
		again, err := encodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := decodeCommand(again)
		if err != nil || len(c2.Ops) != len(c.Ops) {
			t.Fatalf("re-decode: %v (%d vs %d ops)", err, len(c2.Ops), len(c.Ops))
		}
	})
}
