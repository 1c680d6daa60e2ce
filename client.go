package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// client talks to a running member over its control socket.
type client struct {
	dir  string
	http *http.Client
}

func newClient(dir string) (*client, error) {
	if _, err := loadConfig(dir); err != nil {
		return nil, err
	}
	path := socketPath(dir)
	return &client{dir: dir, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}, nil
}

// errNotRunning says the data dir has no running member to ask.
var errNotRunning = errors.New("no running member")

func (c *client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://concord" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("%w for %s: start it with `concord run --data %s`", errNotRunning, c.dir, c.dir)
		}
		if method == http.MethodPost && path == "/v1/send" {
			return nil, fmt.Errorf("the member stopped before answering: the message may or may not have been sent (check `concord history --data %s`)", c.dir)
		}
		return nil, fmt.Errorf("the member stopped before answering: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e apiError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			if e.ID != "" {
				return nil, &queuedError{id: e.ID, msg: e.Error}
			}
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("member answered %s", resp.Status)
	}
	return resp, nil
}

// call does a request and decodes a JSON answer into out.
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// stream copies a streamed answer (NDJSON) to w.
func (c *client) stream(ctx context.Context, w io.Writer, path string, q url.Values) error {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// requestTimeout bounds calls that do not carry their own timeout.
const requestTimeout = 30 * time.Second

// queuedError is a send that is safe in the outbox but not committed.
type queuedError struct{ id, msg string }

func (e *queuedError) Error() string { return e.msg + " (id " + e.id + ")" }
