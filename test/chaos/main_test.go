package chaos

import (
	"concord/internal/releases"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A run's resources all carry this label, so nothing is left behind even
// by a run that was killed: the next run removes what is older.
const labelKey = "concord.chaos"

var (
	skipReason string // set by TestMain when the suite cannot run here
	binDir     string // the host copy of the binary and the image contexts
	imageTag   string // the member image built for this run

	prevOnce  sync.Once
	prevImage string
	prevErr   error
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(dialEnv); addr != "" {
		dialAndExit(addr) // the bridge partition's reachability probe
	}
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		skipReason = "chaos suite skipped under -short"
		return m.Run()
	}
	if os.Getenv("CHAOS") == "" {
		// Opt-in: `go test ./...` (make test) must not start containers.
		skipReason = "chaos suite runs only with CHAOS=1 (make chaos, make chaos-long)"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	cancel()
	if err != nil {
		skipReason = fmt.Sprintf("no Docker engine answers: %v: %s", err, strings.TrimSpace(string(out)))
		return m.Run()
	}
	removeStale()
	dir, err := os.MkdirTemp("", "concord-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	tag := fmt.Sprintf("concord-chaos:%d", os.Getpid())
	if err := buildImage(filepath.Join(dir, "image"), tag, "headless,concord_chaos"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	imageTag = tag
	defer removeImage(tag)
	defer func() {
		for _, x := range []*extraImage{plantedBuild, forgeBuild} {
			if x.tag != "" {
				removeImage(x.tag)
			}
		}
		if prevImage != "" {
			removeImage(prevImage)
		}
	}()
	return m.Run()
}

// requireDocker skips the test when the suite cannot run here.
func requireDocker(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// hostBinary is the static binary the image holds: the harness runs the
// same CLI on the host against each member's bind-mounted control socket.
func hostBinary() string { return filepath.Join(binDir, "image", "concord") }

// buildImage builds the static headless binary with tags into dir and a
// FROM scratch image from it (the context is dir: only the binary).
func buildImage(dir, tag, tags string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", filepath.Join(dir, "concord"), "concord")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -tags %s: %v\n%s", tags, err, out)
	}
	img := exec.CommandContext(ctx, "docker", "build", "-q", "--label", label(), "-t", tag, "-f", "Dockerfile", dir)
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return nil
}

// extraImage is the member image of another build, built once on first
// use and removed when the suite ends.
type extraImage struct {
	name, tags string
	once       sync.Once
	tag        string
	err        error
}

var (
	// plantedBuild has the planted bug: no dedup in the FSM.
	plantedBuild = &extraImage{name: "nodedup", tags: "headless,concord_chaos,concord_nodedup"}
	// forgeBuild has a leader that commits ops in other members' names.
	forgeBuild = &extraImage{name: "forge", tags: "headless,concord_chaos,concord_forge"}
)

func (x *extraImage) get(t *testing.T) string {
	t.Helper()
	x.once.Do(func() {
		tag := fmt.Sprintf("concord-chaos-%s:%d", x.name, os.Getpid())
		if x.err = buildImage(filepath.Join(binDir, x.name), tag, x.tags); x.err == nil {
			x.tag = tag
		}
	})
	if x.err != nil {
		t.Fatal(x.err)
	}
	return x.tag
}

func removeImage(tag string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = exec.CommandContext(ctx, "docker", "rmi", "-f", tag).Run()
}

// removeStale removes containers and networks of earlier runs that died
// before their cleanup, once they are an hour old (longer than any run),
// and images once they are older than the longest test timeout (49 h): a
// long profile keeps its image for hours and has no container at all
// between two runs, when a younger cutoff would remove the image under it.
// Their label holds their creation time.
func removeStale() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label="+labelKey,
		"--format", `{{.ID}} {{.Label "`+labelKey+`"}}`).Output()
	var stale []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, created, ok := strings.Cut(line, " ")
		if sec, err := strconv.ParseInt(created, 10, 64); ok && err == nil && time.Since(time.Unix(sec, 0)) > time.Hour {
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		_ = exec.CommandContext(ctx, "docker", append([]string{"rm", "-f"}, stale...)...).Run()
	}
	_ = exec.CommandContext(ctx, "docker", "network", "prune", "-f", "--filter", "label="+labelKey, "--filter", "until=1h").Run()
	_ = exec.CommandContext(ctx, "docker", "image", "prune", "-a", "-f", "--filter", "label="+labelKey, "--filter", "until=49h").Run()
}

// label is the label every resource of this run carries.
func label() string { return fmt.Sprintf("%s=%d", labelKey, time.Now().Unix()) }

// previous returns the image of the previous release's chaos build (built
// from its tag by internal/releases), built once on first use.
func previous(t *testing.T) string {
	t.Helper()
	prevOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		bin, err := releases.Build(ctx, releases.Previous, "headless,concord_chaos")
		if err != nil {
			prevErr = err
			return
		}
		dir := filepath.Join(binDir, "previous")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			prevErr = err
			return
		}
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "concord"), b, 0o755)
		}
		if err != nil {
			prevErr = err
			return
		}
		tag := fmt.Sprintf("concord-chaos-prev:%d", os.Getpid())
		img := exec.CommandContext(ctx, "docker", "build", "-q", "--label", label(), "-t", tag, "-f", "Dockerfile", dir)
		if out, err := img.CombinedOutput(); err != nil {
			prevErr = fmt.Errorf("docker build: %v\n%s", err, out)
			return
		}
		prevImage = tag
	})
	if errors.Is(prevErr, releases.ErrNoHistory) {
		t.Skipf("the previous release cannot be built here: %v", prevErr)
	}
	if prevErr != nil {
		t.Fatal(prevErr)
	}
	return prevImage
}
