package main

import (
	"cmp"
	"concord/control"
	"concord/version"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// cmdRemove is `concord remove --data DIR MEMBER`.
func cmdRemove(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("remove", stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("give one member to remove: its ID or its name")
	}
	if err := callMember(*data, http.MethodPost, "/v1/members/remove", control.MemberRequest{Member: pos[0]}, &map[string]string{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %s\n", pos[0])
	return nil
}

// cmdRole is `concord role --data DIR MEMBER admin|member`.
func cmdRole(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("role", stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("give a member (ID or name) and a role: admin or member")
	}
	req := control.MemberRequest{Member: pos[0], Role: strings.ToLower(pos[1])}
	if err := callMember(*data, http.MethodPost, "/v1/members/role", req, &map[string]string{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is now %s\n", pos[0], req.Role)
	return nil
}

// cmdVersion is `concord version`: the release, and the team versions it
// works in.
func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("concord version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "concord %s (team versions %d to %d)\n", version.Release, version.MinProtocol, version.Protocol)
	return nil
}

// cmdTeamVersion is `concord team-version --data DIR [--raise] [--json]`.
func cmdTeamVersion(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("team-version", stderr)
	raise := fs.Bool("raise", false, "raise the team version to the newest this release writes (admins; members on older releases stop until upgraded)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseWithData(fs, data, args); err != nil {
		return err
	}
	method := http.MethodGet
	if *raise {
		method = http.MethodPost
	}
	var tv control.TeamVersion
	if err := callMember(*data, method, "/v1/team-version", nil, &tv); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(tv)
	}
	fmt.Fprintf(stdout, "team version %d; this member runs %s (team versions %d to %d)\n", tv.TeamVersion, tv.Release, tv.ProtocolMin, tv.ProtocolMax)
	if tv.TeamVersion >= tv.ProtocolMax {
		return nil
	}
	held := false
	for _, m := range tv.Members {
		if !m.HoldsBack {
			continue
		}
		held = true
		switch {
		case m.ProtocolMax == 0:
			fmt.Fprintf(stdout, "  held back by %s: not heard from yet (%s)\n", m.Name, m.ID)
		default:
			fmt.Fprintf(stdout, "  held back by %s: runs %s, reads team versions up to %d\n", m.Name, cmp.Or(m.Release, "a release before 0.2.0"), m.ProtocolMax)
		}
	}
	if held {
		fmt.Fprintln(stdout, "the leader raises it by itself once they upgrade; an admin can force it with --raise")
	}
	return nil
}
