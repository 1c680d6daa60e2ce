package main

import (
	"concord/consensus"
	"concord/control"
	"concord/node"
	"concord/storage"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// cmdRecover is `concord recover --data DIR --confirm`: the way back for a
// team that lost a quorum of its voters for good. See docs/operations.md.
func cmdRecover(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("recover", stderr)
	confirm := fs.Bool("confirm", false, "really rebuild the team around this member")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	if err := parseStopped(fs, data, "recover", args); err != nil {
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
	if err := node.Recover(ctx, *data, newLogger(stderr, *logLevel)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "recovered: this member is now the team's only voter. Start it with `concord run`;\n"+
		"the other members rejoin as they start, and voters are promoted again as they prove stable.")
	return nil
}

// parseStopped parses the flags of a command that works on a stopped
// member (recover, repair) and checks that its data dir holds a member
// that is not running (data, read once parsed).
func parseStopped(fs *flag.FlagSet, data *string, name string, args []string) error {
	if _, err := parseWithData(fs, data, args); err != nil {
		return err
	}
	dir := *data
	if _, err := node.LoadConfig(dir); err != nil {
		return err
	}
	if memberRunning(dir) {
		return fmt.Errorf("the member is running: stop it first (%s works on a stopped member)", name)
	}
	return nil
}

// memberRunning reports whether a member answers on dir's control socket.
func memberRunning(dir string) bool { return control.Running(dir) }

// cmdRepair is `concord repair --data DIR [--force]`.
func cmdRepair(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("repair", stderr)
	force := fs.Bool("force", false, "rebuild state.db even when it checks out intact")
	fromTeam := fs.Bool("from-team", false, "set this member's state, Raft log and snapshots aside and take the team's (a diverged member)")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	if err := parseStopped(fs, data, "repair", args); err != nil {
		return err
	}
	log := newLogger(stderr, *logLevel)
	raftDir := filepath.Join(*data, "raft")
	if *fromTeam {
		stateAside, raftAside, err := node.ResetFromTeam(*data, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "set aside: %s, %s.\nStart the member with `concord run`: it takes the team's state from the leader,\n"+
			"and does not vote until it has caught up. Its outbox kept its messages.\n", filepath.Base(stateAside), raftAside)
		return nil
	}
	fmt.Fprintln(stdout, "checking the Raft log (every batch's checksum)…")
	if err := consensus.CheckLog(raftDir, log); errors.Is(err, consensus.ErrLogDamaged) {
		fmt.Fprintf(stdout, "%v\n", err)
		rep, err := consensus.RepairLog(raftDir, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "the damaged log is kept as %s; the team sends its entries when the member runs,\n"+
			"and until it has them this member does not vote.\n", filepath.Base(rep.Aside))
	} else if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "checking state.db (bbolt's pages and tree, every record's checksum, channels against their messages)…")
	start := time.Now()
	damage := node.CheckState(context.Background(), *data, log, func(done, total int) {
		fmt.Fprintf(stdout, "\r  %d of %d records", done, total)
	})
	fmt.Fprintln(stdout)
	switch {
	case damage == nil && !*force:
		fmt.Fprintf(stdout, "state.db is intact (checked in %v); nothing to repair.\n", time.Since(start).Round(time.Millisecond))
		return nil
	case damage == nil:
		fmt.Fprintln(stdout, "state.db is intact; rebuilding it anyway (--force).")
	case errors.Is(damage, storage.ErrLocked):
		return damage
	default:
		fmt.Fprintf(stdout, "%v\n", damage)
	}
	res, err := node.RebuildState(*data, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt state.db up to log entry %d from this member's Raft snapshot and log;\n"+
		"the damaged file is kept as %s. Start the member with `concord run`: the team\n"+
		"sends what came after, the search index is rebuilt, and the outbox kept its messages.\n",
		res.Applied, filepath.Base(res.Aside))
	return nil
}

func printMemberRow(w io.Writer, r control.MemberRow) {
	state, seat := "offline", "non-voter"
	if r.Online {
		state = "online"
	}
	if r.Voter {
		seat = "voter"
	}
	fmt.Fprintf(w, "%-20s %-7s %-9s %-6s %s\n", r.Name, r.Role, seat, state, r.ID)
}
