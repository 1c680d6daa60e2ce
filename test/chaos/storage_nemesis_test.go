package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"concord/internal/smallfs"
)

// nemDiskFull fills one member's disk (the leader half the time) to 1 MB
// free for 3–6 s while the load goes on; two rounds. Its own sends are
// refused (nothing written), its Raft log and state store fail to write:
// it must stop applying rather than skip, look unhealthy to the others, and
// catch up by itself once the space is back.
func nemDiskFull(tm *team, rng *rand.Rand) error {
	for range 2 {
		m, isLeader := tm.target(rng)
		tm.events.add("fill the disk of %s", m.name)
		f := smallfs.Fill(tm.t, m.dir, 1<<20)
		tm.events.begin()
		if isLeader {
			tm.events.lostLeader(time.Now())
		}
		tm.hold(between(rng, 3*time.Second, 6*time.Second))
		if st, err := tm.status(m); err == nil {
			tm.events.add("%s while full: storage %s, disk %s", m.name, st.Storage.State, st.Disk.State)
		}
		tm.events.add("free the disk of %s", m.name)
		f.Release()
		tm.events.end()
		tm.hold(between(rng, time.Second, 2*time.Second))
	}
	return nil
}

// nemBitFlip stops a member (the leader half the time), flips one bit in a
// stored message's text in its state.db (every copy bbolt keeps of that
// page), and starts it again: it must find the damage, set the file aside
// and rebuild its state from its Raft snapshot and log and the team. A
// served changed text would show in the checker (histories are keyed by
// text) as lost and unexpected.
func nemBitFlip(tm *team, rng *rand.Rand) error {
	m, _ := tm.target(rng)
	out, err := tm.cli(m, "history", "--channel", "chaos", "--json")
	if err != nil {
		return err
	}
	var texts []string
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r row
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("history of %s: %w", m.name, err)
		}
		texts = append(texts, r.Text)
	}
	if len(texts) == 0 {
		return fmt.Errorf("%s has no message to damage", m.name)
	}
	text := texts[rng.IntN(len(texts))]
	if err := tm.kill(m); err != nil {
		return err
	}
	tm.events.lostLeader(time.Now()) // harmless when it was a follower
	n, err := flipText(filepath.Join(m.dir, "state.db"), []byte(text))
	if err != nil {
		return err
	}
	tm.events.add("flipped a bit in %d copies of %q in %s's state.db", n, text, m.name)
	tm.hold(between(rng, 500*time.Millisecond, 2*time.Second))
	return tm.start(m)
}

// flipText flips the lowest bit of the last byte of every copy of text in
// the file and returns how many it changed.
func flipText(path string, text []byte) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], text)
		if i < 0 {
			break
		}
		b[off+i+len(text)-1] ^= 1
		n++
		off += i + len(text)
	}
	if n == 0 {
		return 0, fmt.Errorf("%q is not in %s", text, path)
	}
	return n, os.WriteFile(path, b, 0o600)
}
