package control

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The handlers: each decodes its request, calls the member, answers.

func (cs *Server) send(w http.ResponseWriter, r *http.Request) {
	var req SendRequest
	if !cs.decode(w, r, 1<<20, &req) {
		return
	}
	ctx, cancel := waitContext(r, req.TimeoutMS)
	defer cancel()
	var id string
	var err error
	if req.ReplyTo != "" {
		id, err = cs.node.Reply(ctx, req.ReplyTo, req.Text, !req.NoWait)
	} else {
		send := cs.node.Send
		if req.NoWait {
			send = cs.node.SendNoWait
		}
		id, err = send(ctx, cmp.Or(req.Channel, "general"), req.Text)
	}
	cs.answerSend(w, id, err)
}

func (cs *Server) history(w http.ResponseWriter, r *http.Request) {
	channel := cmp.Or(r.URL.Query().Get("channel"), "general")
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

func (cs *Server) channels(w http.ResponseWriter, r *http.Request) {
	serveJSON(cs, w, r, func(ctx context.Context) ([]ChannelRow, error) {
		chs, err := cs.node.Channels(ctx)
		rows := make([]ChannelRow, 0, len(chs))
		for _, c := range chs {
			rows = append(rows, ChannelRow{Name: c.Name, CreatedAt: stamp(c.CreatedAt), Messages: c.Messages})
		}
		return rows, err
	})
}

func (cs *Server) createChannel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !cs.decode(w, r, 1<<16, &req) {
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

func (cs *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, NewStatus(cs.node.Status()))
}

func (cs *Server) invite(w http.ResponseWriter, r *http.Request) {
	var req InviteRequest
	if r.ContentLength != 0 {
		if !cs.decode(w, r, 1<<10, &req) {
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	code, err := cs.node.Invite(ctx, time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
}

func (cs *Server) time(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, NewTime(cs.node.Time()))
}

func (cs *Server) outboxList(w http.ResponseWriter, r *http.Request) {
	entries, err := cs.node.Outbox()
	if err != nil {
		cs.fail(w, err)
		return
	}
	rows := make([]OutboxRow, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, NewOutboxRow(e))
	}
	writeJSON(w, http.StatusOK, rows)
}

// ChatOpRequest is the body of /v1/edit, /v1/delete and /v1/react.

// chatOp answers like a send: 200 once committed, 202 with the op's ID
// while it waits in the outbox.
func (cs *Server) chatOp(w http.ResponseWriter, r *http.Request) {
	var req ChatOpRequest
	if !cs.decode(w, r, 1<<20, &req) {
		return
	}
	ctx, cancel := waitContext(r, req.TimeoutMS)
	defer cancel()
	out := map[string]any{"id": req.ID}
	var op string
	var err error
	switch r.URL.Path {
	case "/v1/edit":
		op, err = cs.node.EditOp(ctx, req.ID, req.Text)
	case "/v1/delete":
		op, err = cs.node.DeleteOp(ctx, req.ID)
	default:
		var on bool
		op, on, err = cs.node.ReactOp(ctx, req.ID, req.Emoji)
		out["on"] = on
	}
	out["op"] = op
	cs.answerWait(w, op, err, out)
}

func (cs *Server) dm(w http.ResponseWriter, r *http.Request) {
	var req DMRequest
	if !cs.decode(w, r, 1<<20, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	id, err := cs.node.DM(ctx, req.To, req.Text)
	cs.answerSend(w, id, err)
}

func (cs *Server) members(w http.ResponseWriter, r *http.Request) {
	serveJSON(cs, w, r, func(ctx context.Context) ([]MemberRow, error) {
		members, err := cs.node.Members(ctx)
		rows := make([]MemberRow, 0, len(members))
		for _, m := range members {
			rows = append(rows, MemberRow{ID: m.ID, Name: m.Name, Role: m.Role, Voter: m.Voter, Online: m.Online, Release: m.Release})
		}
		return rows, err
	})
}

func (cs *Server) memberChange(w http.ResponseWriter, r *http.Request) {
	var req MemberRequest
	if !cs.decode(w, r, 1<<10, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	var err error
	if r.URL.Path == "/v1/members/remove" {
		err = cs.node.RemoveMember(ctx, req.Member)
	} else {
		err = cs.node.SetRole(ctx, req.Member, req.Role)
	}
	if err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"ok": req.Member})
}

func (cs *Server) file(w http.ResponseWriter, r *http.Request) {
	var req FileRequest
	if !cs.decode(w, r, 1<<16, &req) {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	lastSent := time.Time{}
	progress := func(done, total int64) {
		if time.Since(lastSent) < 100*time.Millisecond && done < total {
			return
		}
		lastSent = time.Now()
		_ = enc.Encode(FileProgress{Done: done, Total: total})
		if flusher != nil {
			flusher.Flush()
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Minute)
	defer cancel()
	var out FileProgress
	var err error
	if r.URL.Path == "/v1/attach" {
		out.ID, err = cs.node.Attach(ctx, cmp.Or(req.Channel, "general"), req.Path, progress)
	} else {
		err = cs.node.Fetch(ctx, req.ID, req.Path, progress)
		out.OK = err == nil
	}
	if err != nil {
		out.Error = err.Error()
	}
	_ = enc.Encode(out)
}

func (cs *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	msgs, err := cs.node.Search(ctx, q.Get("q"), q.Get("channel"), limit)
	if err != nil {
		cs.fail(w, err)
		return
	}
	cs.writeRows(w, msgs)
}

// teamVersion shows the team version (GET) or raises it (POST, admins).
func (cs *Server) teamVersion(w http.ResponseWriter, r *http.Request) {
	serveJSON(cs, w, r, func(ctx context.Context) (TeamVersion, error) {
		if r.Method == http.MethodPost {
			if _, err := cs.node.RaiseTeamVersion(ctx); err != nil {
				return TeamVersion{}, err
			}
		}
		tv, err := cs.node.TeamVersion(ctx)
		return NewTeamVersion(tv), err
	})
}

// pin pins (/v1/pin) or unpins (/v1/unpin) a message: {"id"}.
func (cs *Server) pin(w http.ResponseWriter, r *http.Request) {
	var req ChatOpRequest
	if !cs.decode(w, r, 1<<10, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	if err := cs.node.Pin(ctx, req.ID, r.URL.Path == "/v1/unpin"); err != nil {
		cs.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": req.ID})
}

// pins streams a channel's pinned messages as history rows.
func (cs *Server) pins(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	msgs, err := cs.node.Pins(ctx, cmp.Or(r.URL.Query().Get("channel"), "general"))
	if err != nil {
		cs.fail(w, err)
		return
	}
	cs.writeRows(w, msgs)
}

// verify checks the member's signed history (`concord verify`).
func (cs *Server) verify(w http.ResponseWriter, r *http.Request) {
	serveJSON(cs, w, r, cs.node.Verify)
}
