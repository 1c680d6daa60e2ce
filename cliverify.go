package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"concord/consensus"
	"concord/node"
)

// cmdVerify is `concord verify --data DIR [--json]`: it checks every signed
// op the member stores (docs/security.md) and exits 1 when one fails. A
// running member checks its own store; a stopped one's is opened here.
func cmdVerify(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("verify", stderr)
	asJSON := fs.Bool("json", false, `print {"checked":N,"failed":[...]} (and the other counts) instead of sentences`)
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	if _, err := parseWithData(fs, data, args); err != nil {
		return err
	}
	var v node.Verified
	if memberRunning(*data) {
		if err := callMember(*data, http.MethodGet, "/v1/verify", nil, &v); err != nil {
			return err
		}
	} else {
		var err error
		if v, err = node.VerifyData(context.Background(), *data, newLogger(stderr, *logLevel)); err != nil {
			return err
		}
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(v); err != nil {
			return err
		}
	} else {
		printVerified(stdout, v)
	}
	if len(v.Failed) > 0 {
		return fmt.Errorf("%d signed ops did not check out", len(v.Failed))
	}
	return nil
}

func printVerified(w io.Writer, v node.Verified) {
	fmt.Fprintf(w, "checked %d signed ops under %d signatures: each signature, each op's hash, and that its author signed it.\n", v.Checked, v.Groups)
	if v.NotKept > 0 {
		fmt.Fprintf(w, "%d more signed ops are covered by their signatures but not kept here (refused, duplicates, or deleted messages).\n", v.NotKept)
	}
	if v.Unsigned > 0 {
		fmt.Fprintf(w, "%d of %d messages were committed before the team signed its ops (team version %d): no signature covers them.\n",
			v.Unsigned, v.Messages, consensus.SignProtocol)
	}
	for _, f := range v.Failed {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
	if len(v.Failed) == 0 {
		fmt.Fprintln(w, "every signed op checks out.")
	}
}
