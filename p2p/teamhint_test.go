package p2p

import (
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"concord/internal/netlab"
)

func TestHintText(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	text := hintText("abc1234", long)
	tag, name, ok := parseHint(text)
	if !ok || tag != "abc1234" || len(name) > maxHintName || !strings.HasPrefix(long, name) {
		t.Fatalf("parseHint(hintText(long name)) = %q, %q, %v", tag, name, ok)
	}
	bad := [][]string{
		nil,
		{"v=2", "tag=abc1234", "team=Acme"},
		{"v=1", "tag=abc", "team=Acme"},
		{"v=1", "tag=abc1234", "team=  "},
		{"v=1", "tag=abc1234", "team=\xff"},
		{"v=1", "team=Acme"},
	}
	for _, text := range bad {
		if _, _, ok := parseHint(text); ok {
			t.Errorf("parseHint(%q) accepted", text)
		}
	}
	if got := TeamTag("team-1"); got != "4b28b27" {
		t.Errorf("TeamTag(team-1) = %q, want the ServiceName digits 4b28b27", got)
	}
}

// TestTeamHintsNetns: a and b (team Acme) and c (team Beta) announce their
// teams; d, a newcomer with no team, browses and must list both teams with
// their member counts.
func TestTeamHintsNetns(t *testing.T) {
	lan := netlab.NewLAN(t, []string{"a", "b", "c", "d"})
	start := time.Now()
	members := []*mdnsChild{
		startMDNSChild(t, lan, "a", ServiceName("team-acme"), "", envMDNSHint+"=team-acme|Acme"),
		startMDNSChild(t, lan, "b", ServiceName("team-acme"), "", envMDNSHint+"=team-acme|Acme"),
		startMDNSChild(t, lan, "c", ServiceName("team-beta"), "", envMDNSHint+"=team-beta|Beta"),
	}
	d := startMDNSChild(t, lan, "d", ServiceName("team-none"), "", envMDNSBrowse+"=1")
	idD := d.waitID(t, 60*time.Second)
	want := "Acme/" + TeamTag("team-acme") + "/2;Beta/" + TeamTag("team-beta") + "/1"
	ev := d.waitMatch(t, 60*time.Second, "TEAMS "+want, func(e mdnsEvent) bool {
		return e.kind == "TEAMS" && e.peer == idD && e.rest == want
	})
	t.Logf("d listed %s %v after the test started its processes", want, ev.at.Sub(start).Round(time.Millisecond))
	members = append(members, d)
	for _, m := range members {
		m.askToStop()
	}
	for _, m := range members {
		m.stop(t, 30*time.Second)
	}
	if bad := d.event("BROWSEFAIL", idD); bad != nil {
		t.Fatalf("browsing failed: %s", bad.rest)
	}
}

func TestHintEndpoint(t *testing.T) {
	ips, port := hintEndpoint([]ma.Multiaddr{
		ma.StringCast("/ip4/10.77.1.2/tcp/4001"),
		ma.StringCast("/ip6/fd00::5/tcp/4001"),
		ma.StringCast("/ip4/10.77.1.2/tcp/4002"),
	})
	if strings.Join(ips, ",") != "10.77.1.2,fd00::5" || port != 4001 {
		t.Fatalf("hintEndpoint = %v, %d", ips, port)
	}
}
