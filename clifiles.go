package main

import (
	"bufio"
	"concord/control"
	"concord/internal/human"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// fileCall posts req to path and follows the NDJSON progress lines,
// drawing a progress bar on stderr; it returns the outcome line.
func fileCall(data, path string, req control.FileRequest, stderr io.Writer) (control.FileProgress, error) {
	var last control.FileProgress
	c, err := control.NewClient(data)
	if err != nil {
		return last, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 16*time.Minute)
	defer cancel()
	resp, err := c.Do(ctx, http.MethodPost, path, nil, req)
	if err != nil {
		return last, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	drew := false
	for sc.Scan() {
		var p control.FileProgress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return last, fmt.Errorf("bad answer from the member: %w", err)
		}
		if p.Total > 0 && p.ID == "" && !p.OK && p.Error == "" {
			fmt.Fprintf(stderr, "\r%s %3d%% %s", bar(p.Done, p.Total, 30), p.Done*100/p.Total, human.Bytes(p.Total))
			drew = true
			continue
		}
		last = p
	}
	if drew {
		fmt.Fprintln(stderr)
	}
	if err := sc.Err(); err != nil {
		return last, err
	}
	if last.Error != "" {
		return last, errors.New(last.Error)
	}
	return last, nil
}

func bar(done, total int64, width int) string {
	n := int(done * int64(width) / max(total, 1))
	return "[" + strings.Repeat("#", n) + strings.Repeat(" ", width-n) + "]"
}

// cmdAttach is `concord attach --data DIR [--channel C] FILE`.
func cmdAttach(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("attach", stderr)
	channel := fs.String("channel", "general", "channel to send the file to")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("give one file to attach")
	}
	abs, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	out, err := fileCall(*data, "/v1/attach", control.FileRequest{Channel: *channel, Path: abs}, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, out.ID)
	return nil
}

// cmdFetch is `concord fetch --data DIR ID --out PATH`.
func cmdFetch(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("fetch", stderr)
	outPath := fs.String("out", "", "where to write the file (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *outPath == "" {
		return errors.New("give the message ID and --out PATH")
	}
	abs, err := filepath.Abs(*outPath)
	if err != nil {
		return err
	}
	if _, err := fileCall(*data, "/v1/fetch", control.FileRequest{ID: pos[0], Path: abs}, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, abs)
	return nil
}
