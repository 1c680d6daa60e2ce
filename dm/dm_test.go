package dm

import (
	"errors"
	"strings"
	"testing"
)

func mustKey(t *testing.T) *Key {
	t.Helper()
	k, err := LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	ann, bob, eve := mustKey(t), mustKey(t), mustKey(t)
	to := map[string]*[32]byte{"ann": &ann.Public, "bob": &bob.Public}
	sealed, err := Seal("meet at 12 — ünïcode", ann, to)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "meet") || !strings.HasPrefix(sealed, Prefix) {
		t.Fatalf("sealed text leaks or lacks the prefix: %q", sealed)
	}
	for name, k := range map[string]*Key{"ann": ann, "bob": bob} {
		got, err := Open(sealed, name, k, &ann.Public)
		if err != nil || got != "meet at 12 — ünïcode" {
			t.Fatalf("%s opens %q, %v", name, got, err)
		}
	}
	if _, err := Open(sealed, "eve", eve, &ann.Public); !errors.Is(err, ErrNotForYou) {
		t.Fatalf("a non-participant: %v, want ErrNotForYou", err)
	}
	if _, err := Open(sealed, "bob", eve, &ann.Public); !errors.Is(err, ErrDamaged) {
		t.Fatalf("the wrong key under a participant's name: %v, want ErrDamaged", err)
	}
	if _, err := Open(sealed, "bob", bob, &eve.Public); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a forged sender: %v, want ErrDamaged", err)
	}
	for _, bad := range []string{"", "box1:", "box1:!!!", sealed[:len(sealed)-3], "hello"} {
		if _, err := Open(bad, "bob", bob, &ann.Public); err == nil {
			t.Fatalf("Open(%q) succeeded", bad)
		}
	}
}

func TestLoadKeyKeepsTheKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadKey(dir)
	if err != nil || a.Public != b.Public || a.Private != b.Private {
		t.Fatalf("reloaded key differs: %v", err)
	}
	if p, err := ParsePublic(a.PublicString()); err != nil || *p != a.Public {
		t.Fatalf("public key round trip: %v", err)
	}
}

func TestChannelIsOrderFree(t *testing.T) {
	a, b := Channel([]string{"x", "y", "x"}), Channel([]string{"y", "x"})
	if a != b || len(a) != 23 || Channel([]string{"x", "z"}) == a {
		t.Fatalf("channel names: %q %q", a, b)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := LoadKey(f.TempDir())
	s, _ := Seal("hi", k, map[string]*[32]byte{"a": &k.Public})
	f.Add(s)
	f.Add("box1:AQ")
	f.Fuzz(func(t *testing.T, sealed string) {
		_, _ = Open(sealed, "a", k, &k.Public) // must not panic
	})
}
