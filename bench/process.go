package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// baselineEnv names the directory a child process serves the baseline in;
// a test binary whose TestMain calls ServeBaselineChild becomes that child
// when it is set.
const baselineEnv = "CONCORD_BENCH_BASELINE_DIR"

// BaselineProcess is a raw-Raft baseline cluster running in a child
// process: nothing of the parent (Concord's members, their timers, their
// garbage) shares its Go runtime, so its rounds measure raft alone, as a
// standalone deployment would run. Rounds are run one at a time.
type BaselineProcess struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	mu   sync.Mutex
	once sync.Once
	err  error
}

// roundRequest asks the child for one load round; roundReply answers it.
type roundRequest struct {
	Conc, Msgs int
	Size       int
}

type roundReply struct {
	Result Result
	Err    string
}

// StartBaselineProcess starts the current executable again as a child that
// serves an n-node baseline cluster in dir (the executable's TestMain must
// call ServeBaselineChild first) and returns once its leader is elected.
func StartBaselineProcess(ctx context.Context, dir string, n int) (*BaselineProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: baseline process: %w", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s", baselineEnv, dir), fmt.Sprintf("CONCORD_BENCH_BASELINE_NODES=%d", n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: baseline process: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: baseline process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: baseline process: %w", err)
	}
	p := &BaselineProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	p.out.Buffer(make([]byte, 64<<10), 1<<20)
	ready := make(chan error, 1)
	go func() {
		if !p.out.Scan() {
			ready <- fmt.Errorf("bench: baseline process ended before it was ready: %v", p.out.Err())
			return
		}
		if line := p.out.Text(); line != "ready" {
			ready <- fmt.Errorf("bench: baseline process: %s", line)
			return
		}
		ready <- nil
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// Round runs conc senders committing msgs entries of size bytes in the
// child and returns its Result; CPU is the child's own.
func (p *BaselineProcess) Round(ctx context.Context, conc, msgs, size int) (Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(roundRequest{Conc: conc, Msgs: msgs, Size: size})
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return Result{}, fmt.Errorf("bench: baseline process: %w", err)
	}
	got := make(chan roundReply, 1)
	go func() {
		var r roundReply
		if !p.out.Scan() {
			r.Err = fmt.Sprintf("baseline process ended: %v", p.out.Err())
		} else if err := json.Unmarshal(p.out.Bytes(), &r); err != nil {
			r.Err = err.Error()
		}
		got <- r
	}()
	select {
	case r := <-got:
		if r.Err != "" {
			return r.Result, fmt.Errorf("bench: baseline round: %s", r.Err)
		}
		return r.Result, nil
	case <-ctx.Done():
		// The child is mid-round: it cannot serve another one. Ending it
		// ends the reader goroutine too.
		_ = p.cmd.Process.Kill()
		<-got
		return Result{}, ctx.Err()
	}
}

// Close ends the child (closing its input makes it shut its cluster down)
// and waits for it; after a minute it is killed.
func (p *BaselineProcess) Close() error {
	p.once.Do(func() {
		_ = p.in.Close()
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		t := time.NewTimer(time.Minute)
		defer t.Stop()
		select {
		case p.err = <-done:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			p.err = errors.Join(errors.New("bench: baseline process did not stop; killed"), <-done)
		}
	})
	return p.err
}

// ServeBaselineChild serves a baseline cluster on stdin/stdout when this
// process was started by StartBaselineProcess, and returns the exit code
// and true; otherwise it returns false at once. A test binary calls it
// first thing in TestMain.
func ServeBaselineChild() (int, bool) {
	dir := os.Getenv(baselineEnv)
	if dir == "" {
		return 0, false
	}
	n := 3
	if _, err := fmt.Sscan(os.Getenv("CONCORD_BENCH_BASELINE_NODES"), &n); err != nil {
		n = 3
	}
	if err := serveBaseline(dir, n, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	return 0, true
}

func serveBaseline(dir string, n int, r io.Reader, w io.Writer) error {
	ctx := context.Background()
	b, err := StartBaseline(ctx, dir, n)
	if err != nil {
		fmt.Fprintln(w, err)
		return err
	}
	fmt.Fprintln(w, "ready")
	in := bufio.NewScanner(r)
	enc := json.NewEncoder(w)
	for in.Scan() {
		var req roundRequest
		var rep roundReply
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			rep.Err = err.Error()
		} else {
			data := make([]byte, req.Size)
			rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			rep.Result = Run(rctx, req.Conc, req.Msgs, func(ctx context.Context) error {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				return b.Apply(sctx, data)
			})
			cancel()
		}
		if err := enc.Encode(rep); err != nil {
			return errors.Join(err, b.Close())
		}
	}
	return b.Close()
}
