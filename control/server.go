// Package control is a member's control API: HTTP+JSON on the data dir's
// socket (DATA/concord.sock; on Windows a named pipe, see Address), served over a *node.Node (Listen) and called
// through the typed Client. api.go declares every request and answer once;
// their JSON fields are the CLI's `--json` output. Only processes that can
// open the data dir can reach the socket.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"concord/node"
	"concord/storage"
)

// SocketPath is the unix control socket of the member in dir (not on
// Windows, which uses a named pipe: Address).
func SocketPath(dir string) string { return filepath.Join(dir, "concord.sock") }

// Running reports whether a member answers on dir's control socket (or,
// on Windows, its pipe) within a second.
func Running(dir string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := dial(ctx, dir)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// extraRoutes are endpoints a build tag adds (concord_chaos: chaos.go).
var extraRoutes []func(*http.ServeMux, *Server)

// Server serves a member's control API on its data dir's socket.
type Server struct {
	node *node.Node
	log  *slog.Logger
	srv  *http.Server
	ln   net.Listener
	mux  *http.ServeMux
	done chan error
}

// OnShow makes POST /v1/show call show: the window's member brings its
// window to the front when the app is started again on the same data dir
// (one instance per data dir). A headless member answers 404.
func (cs *Server) OnShow(show func()) {
	cs.mux.HandleFunc("POST /v1/show", func(w http.ResponseWriter, r *http.Request) {
		show()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

// Listen serves n's control API on dir's socket until Close; it refuses
// when another process already serves dir. log may be nil.
func Listen(n *node.Node, dir string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if Running(dir) {
		return nil, fmt.Errorf("another concord is already running on %s", dir)
	}
	ln, err := listen(dir)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cs := &Server{node: n, log: log.With("component", "control"), ln: ln, done: make(chan error, 1)}
	mux := http.NewServeMux()
	cs.mux = mux
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
	mux.HandleFunc("GET /v1/team-version", cs.teamVersion)
	mux.HandleFunc("POST /v1/pin", cs.pin)
	mux.HandleFunc("POST /v1/unpin", cs.pin)
	mux.HandleFunc("GET /v1/pins", cs.pins)
	mux.HandleFunc("GET /v1/verify", cs.verify)
	mux.HandleFunc("POST /v1/team-version", cs.teamVersion)
	for _, add := range extraRoutes {
		add(mux, cs)
	}
	cs.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { cs.done <- cs.srv.Serve(ln) }()
	return cs, nil
}

// Close stops serving and waits for the serving goroutine.
func (cs *Server) Close(ctx context.Context) error {
	err := cs.srv.Shutdown(ctx)
	if serveErr := <-cs.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (cs *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusServiceUnavailable
	switch {
	case errors.Is(err, node.ErrInvalid), errors.Is(err, storage.ErrUnknownChannel), errors.Is(err, storage.ErrNotFound):
		code = http.StatusBadRequest
	case errors.Is(err, node.ErrQueued):
		code = http.StatusAccepted
	case errors.Is(err, node.ErrDiskFull):
		code = http.StatusInsufficientStorage
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	cs.log.Debug("request failed", "err", err)
	writeJSON(w, code, APIError{Error: err.Error()})
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
func (cs *Server) answerSend(w http.ResponseWriter, id string, err error) {
	cs.answerWait(w, id, err, map[string]string{"id": id})
}

// answerWait answers a request that waited for a commit: ok once
// committed, 202 with the queued entry's ID when it is queued but not
// committed in time, an error otherwise.
func (cs *Server) answerWait(w http.ResponseWriter, queuedID string, err error, ok any) {
	switch {
	case errors.Is(err, node.ErrQueued):
		writeJSON(w, http.StatusAccepted, APIError{Error: err.Error(), ID: queuedID})
	case err != nil:
		cs.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, ok)
	}
}

// writeRows streams messages as history rows (NDJSON).
func (cs *Server) writeRows(w http.ResponseWriter, msgs []storage.Message) {
	names := map[string]string{}
	if members, err := cs.node.MemberRecords(); err == nil {
		for _, m := range members {
			names[m.ID] = m.Name
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, m := range msgs {
		_ = enc.Encode(NewHistoryRow(m, names))
	}
}

// decode reads r's JSON body, at most limit bytes, into v; a malformed one
// is answered 400 (ErrInvalid) and decode reports false.
func (cs *Server) decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// Say what the limit is, not "http: request body too large".
			err = fmt.Errorf("too long: a message's text may be at most %d KiB (send a longer text as a file with attach)", storage.MaxTextBytes>>10)
		}
		cs.fail(w, fmt.Errorf("%w: %v", node.ErrInvalid, err))
		return false
	}
	return true
}

// serveJSON answers r with what fn returns (within RequestTimeout), as
// JSON, or with fn's error.
func serveJSON[T any](cs *Server, w http.ResponseWriter, r *http.Request, fn func(ctx context.Context) (T, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	v, err := fn(ctx)
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
