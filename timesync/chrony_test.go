package timesync

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// chronyTolerance is how close to the truth a sync against a local chronyd
// must come. Loopback measurements are typically tens of microseconds off;
// the slack is for a loaded CI machine.
const chronyTolerance = 5 * time.Millisecond

// TestChrony checks NTPClock against a real NTP server: Debian's chronyd
// (apt-get install -y chrony), run on a loopback port with its local clock
// as reference and -x so it never touches the system clock.
func TestChrony(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chronyd; skipped under -short")
	}
	bin, err := exec.LookPath("chronyd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/chronyd"); serr != nil {
			t.Skip("chronyd not installed (apt-get install -y chrony)")
		}
		bin = "/usr/sbin/chronyd"
	}
	addr := startChrony(t, bin)

	for _, skew := range []time.Duration{0, 5 * time.Second, -10 * time.Minute} {
		t.Run(fmt.Sprintf("base%+v", skew), func(t *testing.T) {
			cfg := testNTPConfig(t, addr)
			cfg.SampleGap = 10 * time.Millisecond
			cfg.Base = Skewed{Skew: skew}
			c := newTestNTP(t, cfg)
			var worst time.Duration
			for i := range 5 {
				if err := c.Sync(t.Context()); err != nil {
					t.Fatalf("Sync %d: %v", i, err)
				}
				st := c.Status()
				// chronyd serves the system clock, so the true offset of
				// Base is -skew.
				e := st.Offset + skew
				nowErr := c.Now().Sub(time.Now())
				t.Logf("sync %d: offset %v, error %v, Now()-real %v, rtt %v, error bound %v",
					i, st.Offset, e, nowErr, st.RTT, st.ErrorBound)
				worst = max(worst, absDur(e), absDur(nowErr))
			}
			t.Logf("chrony, base skew %v: worst offset error over 5 syncs %v", skew, worst)
			if worst > chronyTolerance {
				t.Fatalf("offset error %v exceeds %v", worst, chronyTolerance)
			}
		})
	}
}

// startChrony runs chronyd on a free loopback port until the test ends and
// returns its address once it serves usable time.
func startChrony(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	port := freeUDPPort(t)
	conf := filepath.Join(dir, "chrony.conf")
	body := fmt.Sprintf(`port %d
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 8
cmdport 0
bindcmdaddress /
driftfile %s
pidfile %s
`, port, filepath.Join(dir, "drift"), filepath.Join(dir, "chronyd.pid"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "chronyd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()

	// -d: foreground, log to stderr; -x: never adjust the system clock.
	args := []string{"-f", conf, "-d", "-x"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // keep access to the temp dir
	} else {
		args = append(args, "-U") // no root needed for -x and a high port
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chronyd: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	chronyLog := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		t.Logf("chronyd log:\n%s", chronyLog())
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for tries := 1; ; tries++ {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		_, err := Query(ctx, addr, QueryOptions{})
		cancel()
		if err == nil {
			t.Logf("chronyd %s serving after %v (%d tries; last refusal: %v)",
				addr, time.Since(start).Round(time.Millisecond), tries, lastErr)
			return addr
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("chronyd on %s not serving after 30s: %v\n%s", addr, err, chronyLog())
		}
		select {
		case <-exited:
			t.Fatalf("chronyd exited: %s", chronyLog())
		case <-tick.C:
		}
	}
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
