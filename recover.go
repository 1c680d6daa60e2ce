package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"concord/consensus"
	"concord/p2p"
	"concord/storage"
)

// cmdRecover is `concord recover --data DIR --confirm`: the way back for a
// team that lost a quorum of its voters for good. See docs/operations.md.
func cmdRecover(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("recover", stderr)
	confirm := fs.Bool("confirm", false, "really rebuild the team around this member")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	if err := parseStopped(fs, "recover", args); err != nil {
		return err
	}
	if !*confirm {
		fmt.Fprint(stdout, `recover makes this member the team's only voter, so the team can work again
after losing most of its voters for good. Only do it when those voters will
not come back on their own (dead disks, lost laptops): if they are only cut
off and come back, the team may split in two. Messages this member had
received but the team had not yet committed are kept.
Run again with --confirm to do it.
`)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := recoverMember(ctx, *data, newLogger(stderr, *logLevel)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "recovered: this member is now the team's only voter. Start it with `concord run`;\n"+
		"the other members rejoin as they start, and voters are promoted again as they prove stable.")
	return nil
}

// parseStopped parses the flags of a command that works on a stopped
// member (recover, repair) and checks that its data dir holds a member
// that is not running (--data, read once parsed).
func parseStopped(fs *flag.FlagSet, name string, args []string) error {
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := fs.Lookup("data").Value.String()
	if err := requireData(dir); err != nil {
		return err
	}
	if _, err := loadConfig(dir); err != nil {
		return err
	}
	if memberRunning(dir) {
		return fmt.Errorf("the member is running: stop it first (%s works on a stopped member)", name)
	}
	return nil
}

// memberRunning reports whether a member answers on dir's control socket.
func memberRunning(dir string) bool {
	c, err := net.DialTimeout("unix", socketPath(dir), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func recoverMember(ctx context.Context, dir string, log *slog.Logger) error {
	conf, err := loadConfig(dir)
	if err != nil {
		return err
	}
	store, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	// A closed host with nobody allowed: it only gives Raft the member's
	// identity; nothing is dialled.
	h, err := p2p.New(ctx, p2p.Config{DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Closed: true, Logger: log})
	if err != nil {
		return err
	}
	defer h.Close()
	log.Info("recovering", "member", h.ID(), "team", conf.TeamName)
	return consensus.Recover(consensus.Config{Host: h.Host(), Dir: filepath.Join(dir, "raft"), Store: store, Logger: log})
}
