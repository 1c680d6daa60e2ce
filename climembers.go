package main

import (
	"concord/control"
	"errors"
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
