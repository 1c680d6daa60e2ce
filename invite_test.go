package main

import (
	"errors"
	"strings"
	"testing"
)

const testPeer = "12D3KooWR1F8F27iVTYhHKXXJcXrY2LoEpRVTuc8gSm9KbHi6oDc"

func TestInviteRoundTrip(t *testing.T) {
	in := invite{V: 1, Team: "t1", TeamName: "Ann's team", Inviter: testPeer,
		Addrs: []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + testPeer}}
	code := in.String()
	if strings.ContainsAny(code, " \n\t=+/") {
		t.Fatalf("code is not copy-paste safe: %q", code)
	}
	out, err := parseInvite("  " + code + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if out.Team != in.Team || out.Inviter != in.Inviter || len(out.Addrs) != 1 {
		t.Fatalf("round trip changed the invite: %+v", out)
	}
}

func TestParseInviteRejects(t *testing.T) {
	good := invite{V: 1, Team: "t1", Inviter: testPeer, Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}
	tests := []struct {
		name, code, want string
	}{
		{"empty", "", "should start with"},
		{"not an invite", "hello", "should start with"},
		{"truncated", good.String()[:20], "damaged"},
		{"garbage", invitePrefix + "!!!", "damaged"},
		{"no team", invite{V: 1, Inviter: testPeer, Addrs: good.Addrs}.String(), "no team"},
		{"no address", invite{V: 1, Team: "t", Inviter: testPeer}.String(), "no address"},
		{"bad inviter", invite{V: 1, Team: "t", Inviter: "nope", Addrs: good.Addrs}.String(), "inviter"},
		{"bad address", invite{V: 1, Team: "t", Inviter: testPeer, Addrs: []string{"nope"}}.String(), "address"},
		{"future version", invite{V: 2, Team: "t", Inviter: testPeer, Addrs: good.Addrs}.String(), "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseInvite(tt.code)
			if !errors.Is(err, ErrBadInvite) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseInvite = %v, want ErrBadInvite mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("reason is not one line: %q", err)
			}
		})
	}
}

func FuzzParseInvite(f *testing.F) {
	f.Add(invite{V: 1, Team: "t1", Inviter: testPeer, Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}.String())
	f.Add("concord1-")
	f.Add("concord1-e30")
	f.Fuzz(func(t *testing.T, code string) {
		inv, err := parseInvite(code)
		if err != nil {
			if !errors.Is(err, ErrBadInvite) {
				t.Fatalf("error does not wrap ErrBadInvite: %v", err)
			}
			return
		}
		if _, err := parseInvite(inv.String()); err != nil {
			t.Fatalf("a valid invite does not survive re-encoding: %v", err)
		}
	})
}
