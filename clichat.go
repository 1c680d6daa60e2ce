package main

import (
	"cmp"
	"concord/control"
	"concord/internal/human"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// printHistoryRow prints one message the way a person reads a channel;
// seen holds the rows printed before it, to quote a reply's parent.
func printHistoryRow(w io.Writer, row control.HistoryRow, seen map[string]control.HistoryRow) {
	seen[row.ID] = row
	at, _ := time.Parse(time.RFC3339Nano, row.CommittedAt)
	text := row.Text
	switch {
	case row.Deleted:
		text = "(message deleted)"
	case row.EditedAt != "":
		text += " (edited)"
	}
	if row.ReplyTo != "" {
		quote := "an earlier message"
		if p, ok := seen[row.ReplyTo]; ok {
			quote = cmp.Or(p.AuthorName, p.Author) + ": " + human.Clip(p.Text, 40)
		}
		text = "(↪ " + quote + ") " + text
	}
	if row.File != nil && !row.Deleted {
		text = fmt.Sprintf("📎 %s (%s, %s) — concord fetch %s --out …", row.File.Name, human.Bytes(row.File.Size), row.File.Type, row.ID)
	}
	var reacts []string
	for emoji, who := range row.Reactions {
		reacts = append(reacts, fmt.Sprintf("%s %d", emoji, len(who)))
	}
	slices.Sort(reacts)
	if len(reacts) > 0 {
		text += "  [" + strings.Join(reacts, ", ") + "]"
	}
	fmt.Fprintf(w, "%s  %s: %s\n", at.Local().Format("2006-01-02 15:04:05"), cmp.Or(row.AuthorName, row.Author), text)
}

// chatOpCmd builds edit, delete and react: ID plus wantArgs more words.
// Like send they wait for the commit (--timeout); an op still queued then
// is an error that says so, and is delivered later.
func chatOpCmd(name, path, usage string, wantArgs int, build func(id string, rest []string) control.ChatOpRequest,
	done func(w io.Writer, id string, out map[string]any)) command {
	return func(args []string, stdout, stderr io.Writer) error {
		fs, data := newFlags(name, stderr)
		timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the change to be committed")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) < 1+wantArgs || wantArgs == 0 && len(pos) != 1 {
			return errors.New(usage)
		}
		c, err := control.NewClient(*data)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Second)
		defer cancel()
		req := build(pos[0], pos[1:])
		req.TimeoutMS = timeout.Milliseconds()
		var out map[string]any
		if err := c.Call(ctx, http.MethodPost, path, req, &out); err != nil {
			return err
		}
		done(stdout, pos[0], out)
		return nil
	}
}

var (
	cmdEdit = chatOpCmd("edit", "/v1/edit", "give the message ID and its new text", 1,
		func(id string, rest []string) control.ChatOpRequest {
			return control.ChatOpRequest{ID: id, Text: strings.Join(rest, " ")}
		},
		func(w io.Writer, id string, _ map[string]any) { fmt.Fprintf(w, "edited %s\n", id) })
	cmdDelete = chatOpCmd("delete", "/v1/delete", "give the ID of the message to delete", 0,
		func(id string, _ []string) control.ChatOpRequest { return control.ChatOpRequest{ID: id} },
		func(w io.Writer, id string, _ map[string]any) { fmt.Fprintf(w, "deleted %s\n", id) })
	cmdReact = chatOpCmd("react", "/v1/react", "give the message ID and one emoji", 1,
		func(id string, rest []string) control.ChatOpRequest {
			return control.ChatOpRequest{ID: id, Emoji: strings.Join(rest, "")}
		},
		func(w io.Writer, id string, out map[string]any) {
			if on, _ := out["on"].(bool); on {
				fmt.Fprintf(w, "reacted to %s\n", id)
			} else {
				fmt.Fprintf(w, "took back the reaction to %s\n", id)
			}
		})
)

// cmdReply is `concord reply --data DIR ID TEXT`: like send, in the
// parent's channel.
func cmdReply(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("reply", stderr)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the reply to be committed")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return errors.New("give the ID of the message to answer and the text")
	}
	req := control.SendRequest{ReplyTo: pos[0], Text: strings.Join(pos[1:], " "), TimeoutMS: timeout.Milliseconds()}
	return postID(*data, "/v1/send", req, *timeout+5*time.Second, stdout)
}

// cmdDM is `concord dm --data DIR --to MEMBER[,MEMBER] TEXT`.
func cmdDM(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("dm", stderr)
	to := fs.String("to", "", "who to write to: member IDs or names, separated by commas (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *to == "" || len(pos) == 0 {
		return errors.New("give --to MEMBER[,MEMBER] and the text")
	}
	return postID(*data, "/v1/dm", control.DMRequest{To: splitList(*to), Text: strings.Join(pos, " ")}, control.RequestTimeout, stdout)
}

// cmdSearch is `concord search --data DIR [--channel C] [--limit N] [--json] QUERY`.
func cmdSearch(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("search", stderr)
	channel := fs.String("channel", "", "search one channel (default: every channel you read)")
	limit := fs.Int("limit", 50, "at most N results, newest first")
	asJSON := fs.Bool("json", false, "one JSON object per line, as history")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("give the words to search for (a trailing * matches a prefix)")
	}
	c, err := control.NewClient(*data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.RequestTimeout)
	defer cancel()
	q := url.Values{"q": {strings.Join(pos, " ")}, "channel": {*channel}, "limit": {strconv.Itoa(*limit)}}
	if *asJSON {
		return c.Stream(ctx, stdout, "/v1/search", q)
	}
	var buf strings.Builder
	if err := c.Stream(ctx, &buf, "/v1/search", q); err != nil {
		return err
	}
	seen := map[string]control.HistoryRow{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var row control.HistoryRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			return fmt.Errorf("bad answer from the member: %w", err)
		}
		fmt.Fprintf(stdout, "#%-12s ", row.Channel)
		printHistoryRow(stdout, row, seen)
	}
	return nil
}

// cmdPins is `concord pins --data DIR [--channel C] [--json]`.
func cmdPins(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("pins", stderr)
	channel := fs.String("channel", "general", "channel whose pinned messages to list")
	asJSON := fs.Bool("json", false, "one JSON object per line (history rows)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	return printRows(*data, "/v1/pins", url.Values{"channel": {*channel}}, *asJSON, stdout)
}

// pinCmd is `concord pin|unpin --data DIR ID`.
func pinCmd(name, path string) command {
	return func(args []string, stdout, stderr io.Writer) error {
		fs, data := newFlags(name, stderr)
		pos, err := parseWithData(fs, data, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return fmt.Errorf("give the ID of the message to %s", name)
		}
		var out struct{ ID string }
		if err := callMember(*data, http.MethodPost, path, control.ChatOpRequest{ID: pos[0]}, &out); err != nil {
			return err
		}
		fmt.Fprintln(stdout, out.ID)
		return nil
	}
}
