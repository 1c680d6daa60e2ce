package storage

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{Path: "x.db"}, true},
		{"no path", Config{}, false},
		{"negative timeout", Config{Path: "x.db", LockTimeout: -time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				if _, err := Open(tc.cfg); err == nil {
					t.Fatal("Open accepted an invalid config")
				}
			}
		})
	}
}

func TestOpenCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"short text", []byte("this is not a database\n")},
		{"one page of garbage", random(4096)},
		{"many pages of garbage", random(64 << 10)},
		{"zeros", make([]byte, 32<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(testConfig(t, path))
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded on a garbage file")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrCorrupt naming %s", err, path)
			}
			// Nothing may have been written over the user's file.
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tc.data) {
				t.Fatal("Open modified the garbage file")
			}
		})
	}
}

func TestOpenForeignBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("someone-else"))
		return err
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	if _, err := Open(testConfig(t, path)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(foreign bolt file) = %v, want ErrCorrupt naming the path", err)
	}
}

func TestOpenLockedSameProcess(t *testing.T) {
	s := mustOpen(t)
	path := s.cfg.Path
	// Use the default timeout: flock locks are per open file description, so
	// a second open in this process must time out just like another process.
	start := time.Now()
	s2, err := Open(testConfig(t, path))
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of the same file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "data is in use by another concord process") {
		t.Fatalf("err = %v lacks the user-facing text", err)
	}
	if waited := time.Since(start); waited > 5*DefaultLockTimeout {
		t.Fatalf("Open waited %v for the lock", waited)
	}

	// Once released, the file opens again with its state.
	mustApply(t, s, entry(1, t0, mkChan("general")))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := mustOpenAt(t, path)
	if s3.AppliedIndex() != 1 {
		t.Fatalf("AppliedIndex = %d, want 1", s3.AppliedIndex())
	}
}

// TestHelperHoldLock is not a test: TestOpenLockedOtherProcess runs the test
// binary with it to hold the store open from a separate process.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("CONCORD_STORAGE_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	s, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Stdout.WriteString("ready\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until parent closes stdin
}

func TestOpenLockedOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "CONCORD_STORAGE_HOLD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = stdin.Close()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}

	cfg := testConfig(t, path)
	cfg.LockTimeout = 100 * time.Millisecond
	_, openErr := Open(cfg)

	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if !errors.Is(openErr, ErrLocked) {
		t.Fatalf("Open while another process holds the file: %v, want ErrLocked", openErr)
	}
	mustOpenAt(t, path) // and usable once the other process is gone
}

func TestOpenRemovesLeftoverRestoreFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path+".restore", []byte("half a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOpenAt(t, path)
	if _, err := os.Stat(path + ".restore"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover restore file still there: %v", err)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(testConfig(t, filepath.Join(t.TempDir(), "state.db")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	calls := map[string]error{
		"Apply":       func() error { _, err := s.Apply([]Entry{entry(1, t0)}); return err }(),
		"Channels":    func() error { _, err := s.Channels(); return err }(),
		"History":     func() error { _, err := s.History("general", Query{}); return err }(),
		"Lookup":      func() error { _, err := s.Lookup("x"); return err }(),
		"Members":     func() error { _, err := s.Members(); return err }(),
		"Snapshot":    func() error { _, err := s.Snapshot(); return err }(),
		"Restore":     s.Restore(strings.NewReader("x")),
		"WaitApplied": s.WaitApplied(t.Context(), 1),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
