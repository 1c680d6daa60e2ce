package control

import (
	"bytes"
	"concord/node"
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

// Client talks to a running member over its control socket.
type Client struct {
	dir  string
	http *http.Client
}

// NewClient is a client of the member in dir (which must hold one).
func NewClient(dir string) (*Client, error) {
	if _, err := node.LoadConfig(dir); err != nil {
		return nil, err
	}
	return &Client{dir: dir, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dial(ctx, dir)
		},
	}}}, nil
}

// ErrNotRunning says the data dir has no running member to ask.
var ErrNotRunning = errors.New("no running member")

// Do sends a request; an answer other than 200 becomes an error (a
// *QueuedError for 202 with an ID).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
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
			return nil, fmt.Errorf("%w for %s: start it with `concord run --data %s`", ErrNotRunning, c.dir, c.dir)
		}
		if method == http.MethodPost && path == "/v1/send" {
			return nil, fmt.Errorf("the member stopped before answering: the message may or may not have been sent (check `concord history --data %s`)", c.dir)
		}
		return nil, fmt.Errorf("the member stopped before answering: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e APIError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			if e.ID != "" {
				return nil, &QueuedError{ID: e.ID, Msg: e.Error}
			}
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("member answered %s", resp.Status)
	}
	return resp, nil
}

// Call does a request and decodes a JSON answer into out.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.Do(ctx, method, path, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Stream copies a streamed answer (NDJSON) to w.
func (c *Client) Stream(ctx context.Context, w io.Writer, path string, q url.Values) error {
	resp, err := c.Do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// RequestTimeout bounds calls that do not carry their own timeout.
const RequestTimeout = 30 * time.Second

// QueuedError is a send that is safe in the outbox but not committed: the
// member answered 202 with the message's ID.
type QueuedError struct{ ID, Msg string }

func (e *QueuedError) Error() string { return e.Msg + " (id " + e.ID + ")" }
