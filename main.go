// Command concord is a peer-to-peer team chat member: every member's app is
// a libp2p host and a Raft node, and together the team's machines replicate
// one chat log. This file is the entry point; Node (node.go) is the
// composition root and cli.go holds the subcommands.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: concord <command> [flags]

commands:
  init      create a team; this member is its first voter
  join      join a team with an invite code
  run       run the member until SIGINT/SIGTERM: with a window when there
            is a display (first run: create or join a team in it), else
            headless (--headless forces it; needs init or join first)
  send      send a message and wait until it is committed
  history   print a channel's messages
  reply     answer a message (in its channel); prints the new message's ID
  edit      change the text of one of your messages
  delete    delete a message (yours; any, for an admin)
  react     add or take back an emoji reaction on a message
  dm        send an end-to-end encrypted private message (--to MEMBER[,MEMBER])
  search    full-text search of the channels you read (newest first)
  attach    send a file (up to 100 MB) to a channel
  fetch     save the file a message carries (--out PATH)
  channels  list or create channels
  status    print this member's view of the team
  invite    print a single-use invite code (admins; --ttl, default 24h)
  members   list the team: role, voter, online
  remove    remove a member from the team (admins; or yourself, to leave)
  role      make a member an admin or a plain member (admins)
  recover   rebuild a team that lost a quorum of voters for good, around
            this (stopped) member; see docs/operations.md
  outbox    list messages not yet delivered (queued, failed)
  time      print the clock correction in use (ntp, peer, system)
  repair    check a stopped member's files and rebuild what is damaged
  verify    check every signed op this member stores (--json; exit 1 on a failure)
  pin       pin a message in its channel (unpin takes it off)
  pins      list a channel's pinned messages
  version   print this release
  team-version  print the team version; --raise raises it (admins)

Run 'concord <command> -h' for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 && haveGUI && hasDisplay() {
		// Started from a desktop launcher (the Linux package's .desktop
		// entry, the Windows .exe): the window, on the default data dir.
		if dir, err := defaultDataDir(); err == nil {
			args = []string{"run", "--data", dir}
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "concord: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(args[1:], stdout, stderr); err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "concord %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
