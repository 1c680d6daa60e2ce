package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"concord/storage"
)

// The control API: HTTP+JSON on DATA/concord.sock. The CLI subcommands are
// its clients; only processes that can open the data dir can reach it.

func socketPath(dir string) string { return filepath.Join(dir, "concord.sock") }

// maxSocketPath is the longest unix socket path Linux accepts (sun_path).
const maxSocketPath = 107

// extraRoutes are endpoints a build tag adds (concord_chaos: chaos.go).
var extraRoutes []func(*http.ServeMux, *controlServer)

type controlServer struct {
	node *Node
	log  *slog.Logger
	srv  *http.Server
	ln   net.Listener
	done chan error
}

func listenControl(n *Node, dir string, log *slog.Logger) (*controlServer, error) {
	path := socketPath(dir)
	abs, _ := filepath.Abs(path)
	if len(abs) > maxSocketPath {
		return nil, fmt.Errorf("data dir path too long for the control socket (%d > %d bytes): use a shorter --data", len(abs), maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another concord is already running on %s", dir)
	}
	_ = os.Remove(path) // a socket left by a crash
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	cs := &controlServer{node: n, log: log.With("component", "control"), ln: ln, done: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/send", cs.send)
	mux.HandleFunc("GET /v1/history", cs.history)
	mux.HandleFunc("GET /v1/channels", cs.channels)
	mux.HandleFunc("POST /v1/channels", cs.createChannel)
	mux.HandleFunc("GET /v1/status", cs.status)
	mux.HandleFunc("POST /v1/invite", cs.invite)
	mux.HandleFunc("POST /v1/edit", cs.chatOp)
	mux.HandleFunc("POST /v1/delete", cs.chatOp)
	mux.HandleFunc("POST /v1/react", cs.chatOp)
	mux.HandleFunc("POST /v1/dm", cs.dm)
	mux.HandleFunc("GET /v1/search", cs.search)
	mux.HandleFunc("POST /v1/attach", cs.file)
	mux.HandleFunc("POST /v1/fetch", cs.file)
	mux.HandleFunc("POST /v1/members/remove", cs.memberChange)
	mux.HandleFunc("POST /v1/members/role", cs.memberChange)
	mux.HandleFunc("GET /v1/time", cs.time)
	mux.HandleFunc("GET /v1/outbox", cs.outboxList)
	mux.HandleFunc("GET /v1/members", cs.members)
	for _, add := range extraRoutes {
		add(mux, cs)
	}
	cs.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { cs.done <- cs.srv.Serve(ln) }()
	return cs, nil
}

// Close stops serving and waits for the serving goroutine.
func (cs *controlServer) Close(ctx context.Context) error {
	err := cs.srv.Shutdown(ctx)
	if serveErr := <-cs.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

type apiError struct {
	Error string `json:"error"`
	ID    string `json:"id,omitempty"` // the message, when it is queued but not committed
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (cs *controlServer) fail(w http.ResponseWriter, err error) {
	code := http.StatusServiceUnavailable
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, storage.ErrUnknownChannel), errors.Is(err, storage.ErrNotFound):
		code = http.StatusBadRequest
	case errors.Is(err, ErrQueued):
		code = http.StatusAccepted
	case errors.Is(err, ErrDiskFull):
		code = http.StatusInsufficientStorage
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	cs.log.Debug("request failed", "err", err)
	writeJSON(w, code, apiError{Error: err.Error()})
}

type sendRequest struct {
	Channel   string `json:"channel"`
	Text      string `json:"text"`
	TimeoutMS int64  `json:"timeout_ms"`
	NoWait    bool   `json:"no_wait"`  // answer once the message is queued
	ReplyTo   string `json:"reply_to"` // the message this one answers (its channel is used)
}

func (cs *controlServer) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	ctx, cancel := waitContext(r, req.TimeoutMS)
	defer cancel()
	var id string
	var err error
	if req.ReplyTo != "" {
		id, err = cs.node.Reply(ctx, req.ReplyTo, req.Text, !req.NoWait)
	} else {
		id, err = cs.node.send(ctx, storage.Envelope{Channel: orDefault(req.Channel, "general"), Text: req.Text}, !req.NoWait)
	}
	cs.answerSend(w, id, err)
}

// waitContext bounds a request that waits for a commit: timeoutMS from
// the request, 10 s when it gives none.
func waitContext(r *http.Request, timeoutMS int64) (context.Context, context.CancelFunc) {
	timeout := time.Duration(timeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return context.WithTimeout(r.Context(), timeout)
}

// answerSend answers a send: the ID once committed, 202 with the ID when
// it is queued but not committed in time, an error otherwise.
func (cs *controlServer) answerSend(w http.ResponseWriter, id string, err error) {
	cs.answerWait(w, id, err, map[string]string{"id": id})
}

// answerWait answers a request that waited for a commit: ok once
// committed, 202 with the queued entry's ID when it is queued but not
// committed in time, an error otherwise.
func (cs *controlServer) answerWait(w http.ResponseWriter, queuedID string, err error, ok any) {
	switch {
	case errors.Is(err, ErrQueued):
		writeJSON(w, http.StatusAccepted, apiError{Error: err.Error(), ID: queuedID})
	case err != nil:
		cs.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, ok)
	}
}

// writeRows streams messages as history rows (NDJSON).
func (cs *controlServer) writeRows(w http.ResponseWriter, msgs []storage.Message) {
	names := map[string]string{}
	if members, err := cs.node.Members(); err == nil {
		for _, m := range members {
			names[m.ID] = m.Name
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, m := range msgs {
		_ = enc.Encode(newHistoryRow(m, names))
	}
}

func (cs *controlServer) history(w http.ResponseWriter, r *http.Request) {
	channel := orDefault(r.URL.Query().Get("channel"), "general")
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	msgs, err := cs.node.History(ctx, channel, limit)
	if err != nil {
		cs.fail(w, err)
		return
	}
	cs.writeRows(w, msgs)
}

type channelRow struct {
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Messages  uint64 `json:"messages"`
}

func (cs *controlServer) channels(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	chs, err := cs.node.Channels(ctx)
	if err != nil {
		cs.fail(w, err)
		return
	}
	rows := make([]channelRow, 0, len(chs))
	for _, c := range chs {
		rows = append(rows, channelRow{Name: c.Name, CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339Nano), Messages: c.Messages})
	}
	writeJSON(w, http.StatusOK, rows)
}

func (cs *controlServer) createChannel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := cs.node.CreateChannel(ctx, req.Name); err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": req.Name})
}

func (cs *controlServer) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, cs.node.Status())
}

type inviteRequest struct {
	TTLSeconds int64 `json:"ttl_s"` // 0: DefaultInviteTTL
}

func (cs *controlServer) invite(w http.ResponseWriter, r *http.Request) {
	var req inviteRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
			cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	code, err := cs.node.Invite(ctx, time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
}

func (cs *controlServer) time(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, cs.node.Time())
}

func (cs *controlServer) outboxList(w http.ResponseWriter, r *http.Request) {
	rows, err := cs.node.Outbox()
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}
