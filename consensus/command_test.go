package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"concord/storage"
	"concord/version"
)

func TestCommandRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	in := command{CommittedAt: at, Ops: []storage.Op{
		{Kind: storage.OpCreateChannel, By: "p", Channel: "dev"},
		{Kind: storage.OpMessage, Message: &storage.Envelope{ID: "a", Author: "p", Channel: "dev", Text: "hi", SentAt: at}},
		{Kind: storage.OpAddMember, By: "q", Token: "t1", Member: &storage.Member{ID: "p", Name: "ann", Role: storage.RoleAdmin,
			Addrs: []string{"/ip4/127.0.0.1/tcp/1"}, JoinedAt: at}},
		{Kind: storage.OpRemoveMember, By: "q", Target: "p"},
		{Kind: storage.OpSetRole, By: "q", Target: "p", Role: storage.RoleAdmin},
		{Kind: storage.OpInvite, By: "q", Invite: &storage.Invite{ID: "t2", Key: "k", Expires: at}},
		{Kind: storage.OpEdit, By: "p", Target: "a", Text: "hi!"},
		{Kind: storage.OpCreateChannel, By: "p", Channel: "dm-1", Participants: []string{"p", "q"}},
		{Kind: storage.OpAddMember, By: "p", Member: &storage.Member{ID: "p", Name: "ann", Role: storage.RoleMember, JoinedAt: at, BoxKey: "k"}},
		{Kind: storage.OpDelete, By: "p", Target: "a"},
		{Kind: storage.OpReact, By: "q", Target: "a", Text: "👍", Remove: true},
		{Kind: storage.OpReact, By: "q", Target: "a", Text: "🎉"},
		{Kind: storage.OpEdit, ID: "e1", By: "p", Target: "a", Text: "hi again"},
		{Kind: storage.OpDelete, ID: "d1", By: "p", Target: "a"},
		{Kind: storage.OpReact, ID: "r1", By: "q", Target: "a", Text: "👍", Remove: true},
		{Kind: storage.OpMessage, Message: &storage.Envelope{ID: "b", Author: "q", Channel: "dev", Text: "re", SentAt: at, ReplyTo: "a"}},
		{Kind: storage.OpMessage, Message: &storage.Envelope{ID: "c", Author: "q", Channel: "dev", Text: "pic", SentAt: at,
			File: &storage.FileRef{Name: "a.png", Size: 9, Type: "image/png", Hash: "00ff"}}},
	}}
	b, err := encodeCommand(in, 1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip changed the command:\n got %+v\nwant %+v", out, in)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version 0", []byte{0, '{', '}'}},
		{"a team version raise in a version 2 command", []byte{commandVersion, 0, 1, 13, 1, 'p', 2}},
		{"version 3 without its header", []byte{commandVersionV3, 0xff}},
		{"only version", []byte{commandVersion}},
		{"bad varint", []byte{commandVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"unknown op", []byte{commandVersion, 0, 1, 77}},
		{"truncated message", []byte{commandVersion, 0, 1, 1, 5, 'a'}},
		{"huge op count", []byte{commandVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"member op without id", []byte{commandVersion, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0}},
		{"channel op without name", []byte{commandVersion, 0, 1, 2, 0, 0}},
		{"remove op without target", []byte{commandVersion, 0, 1, 4, 0, 0}},
		{"react with a bad flag", []byte{commandVersion, 0, 1, 9, 0, 1, 'a', 0, 7}},
		{"reply without parent", []byte{commandVersion, 0, 1, 10, 1, 'i', 1, 'a', 1, 'c', 1, 't', 0, 0}},
		{"an ID on a message", []byte{commandVersion, 0, 1, 12, 1, 'x', 1, 1, 'i', 1, 'a', 1, 'c', 1, 't', 0}},
		{"an empty ID", []byte{commandVersion, 0, 1, 12, 0, 8, 1, 'p', 1, 'a'}},
		{"version 1", []byte{1, 0, 0}},
		{"trailing bytes", []byte{commandVersion, 0, 0, 9}},
		{"invalid utf8", []byte{commandVersion, 0, 1, 2, 0, 2, 0xff, 0xfe}},
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
	b, _ := encodeCommand(command{Ops: []storage.Op{{Kind: storage.OpCreateChannel, By: "p", Channel: "x"}}}, 1)
	f.Add(b)
	f.Add([]byte{commandVersion})
	b2, _ := encodeCommand(command{CommittedAt: time.Unix(5, 0), Ops: []storage.Op{
		{Kind: storage.OpMessage, Message: &storage.Envelope{ID: "i", Author: "a", Channel: "c", Text: "t"}},
		{Kind: storage.OpAddMember, By: "p", Token: "t", Member: &storage.Member{ID: "p", Addrs: []string{"/ip4/1.2.3.4/tcp/1"}}},
		{Kind: storage.OpInvite, By: "p", Invite: &storage.Invite{ID: "t", Key: "k", Expires: time.Unix(9, 0)}},
		{Kind: storage.OpSetRole, By: "p", Target: "q", Role: "admin"},
	}}, 1)
	f.Add(b2)
	b3, _ := encodeCommand(command{CommittedAt: time.Unix(6, 0), Ops: []storage.Op{{Kind: storage.OpSetTeamVersion, By: "p", Version: 2}}}, 2)
	f.Add(b3)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error not wrapping ErrBadCommand: %v", err)
			}
			return
		}
		// Whatever decodes must survive a round trip unchanged in shape.
		again, err := encodeCommand(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := decodeCommand(again)
		if err != nil || len(c2.Ops) != len(c.Ops) {
			t.Fatalf("re-decode: %v (%d vs %d ops)", err, len(c2.Ops), len(c.Ops))
		}
		if again3, _ := encodeCommand(c2, 1); string(again3) != string(again) {
			t.Fatalf("encoding is not canonical after a round trip")
		}
	})
}

// TestDecodeCommandNeedsUpgrade: an entry written for a newer protocol is
// not malformed: it names the release that reads it, so that the member
// stops there and says what to install (never skips it).
func TestDecodeCommandNeedsUpgrade(t *testing.T) {
	header := func(v byte, release string, proto uint64) []byte {
		b := storage.AppendString([]byte{v}, release)
		return binary.AppendUvarint(b, proto)
	}
	for _, c := range []struct {
		name    string
		in      []byte
		release string
	}{
		{"a newer protocol", append(header(commandVersionV3, "0.9.0", version.Protocol+1), 0, 0), "0.9.0"},
		{"a newer command version", append(header(commandVersionV3+1, "1.4.0", 40), 0xde, 0xad), "1.4.0"},
		{"a newer command version with no header", []byte{commandVersionV3 + 5}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeCommand(c.in)
			var nu *NeedsUpgradeError
			if !errors.As(err, &nu) || nu.Release != c.release {
				t.Fatalf("decodeCommand = %v, want NeedsUpgradeError naming %q", err, c.release)
			}
			if errors.Is(err, ErrBadCommand) {
				t.Fatal("an entry for a newer release is not malformed")
			}
		})
	}
	// Written for team version 2: a version 3 command this release reads.
	in := command{CommittedAt: time.Unix(7, 0).UTC(), Ops: []storage.Op{{Kind: storage.OpSetTeamVersion, By: "p", Version: 2},
		{Kind: storage.OpMessage, Message: &storage.Envelope{ID: "i", Author: "a", Channel: "c", Text: "t", SentAt: time.Unix(6, 0).UTC()}}}}
	b, err := encodeCommand(in, 1) // the raise makes it a version 3 command
	if err != nil || b[0] != commandVersionV3 {
		t.Fatalf("encode: %v, version byte %d", err, b[0])
	}
	out, err := decodeCommand(b)
	if err != nil || len(out.Ops) != 2 || out.Ops[0].Version != 2 || out.Ops[1].Message.Text != "t" {
		t.Fatalf("decode: %v %+v", err, out)
	}
	if _, err := encodeCommand(command{Ops: []storage.Op{{Kind: storage.OpSetTeamVersion, By: "p", Version: version.Protocol + 1}}}, 1); err == nil {
		t.Fatal("encoded a raise past what this release reads")
	}
	if b, err := encodeCommand(command{Ops: in.Ops[1:]}, 1); err != nil || b[0] != commandVersion {
		t.Fatalf("at team version 1 a message goes in a version 2 command (every release reads it): %v %v", err, b)
	}
}

// TestPinNeedsTeamVersion3: a pin is written only once the team version
// allows it (every member reads it), and then in a version 3 command.
func TestPinNeedsTeamVersion3(t *testing.T) {
	pin := command{Ops: []storage.Op{{Kind: storage.OpPin, By: "p", Target: "m"}}}
	for _, tv := range []int{1, 2} {
		if _, err := encodeCommand(pin, tv); !errors.Is(err, ErrTeamVersion) {
			t.Errorf("a pin at team version %d: %v, want ErrTeamVersion", tv, err)
		}
	}
	b, err := encodeCommand(pin, 3)
	if err != nil || b[0] != commandVersionV3 {
		t.Fatalf("a pin at team version 3: %v %v", err, b)
	}
	out, err := decodeCommand(b)
	if err != nil || out.Ops[0].Kind != storage.OpPin || out.Ops[0].Target != "m" || out.Ops[0].Remove {
		t.Fatalf("decode: %v %+v", err, out)
	}
	bad := bytes.Clone(b)
	bad[len(bad)-1] = 7 // the unpin flag is 0 or 1
	if _, err := decodeCommand(bad); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("a pin with a bad unpin flag: %v, want ErrBadCommand", err)
	}
}
