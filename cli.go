package main

import (
	"bufio"
	"cmp"
	"concord/control"
	"concord/node"
	"concord/storage"
	"concord/version"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type command func(args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"init":         cmdInit,
	"join":         cmdJoin,
	"run":          cmdRun,
	"send":         cmdSend,
	"history":      cmdHistory,
	"channels":     cmdChannels,
	"status":       showCmd("status", "/v1/status", printStatus),
	"invite":       cmdInvite,
	"time":         showCmd("time", "/v1/time", printTime),
	"outbox":       listCmd("outbox", "/v1/outbox", printOutboxRow, "outbox empty: every message is sent"),
	"members":      listCmd("members", "/v1/members", printMemberRow, ""),
	"remove":       cmdRemove,
	"edit":         cmdEdit,
	"delete":       cmdDelete,
	"react":        cmdReact,
	"reply":        cmdReply,
	"dm":           cmdDM,
	"attach":       cmdAttach,
	"search":       cmdSearch,
	"fetch":        cmdFetch,
	"role":         cmdRole,
	"recover":      cmdRecover,
	"repair":       cmdRepair,
	"version":      cmdVersion,
	"pin":          pinCmd("pin", "/v1/pin"),
	"unpin":        pinCmd("unpin", "/v1/unpin"),
	"pins":         cmdPins,
	"team-version": cmdTeamVersion,
	"verify":       cmdVerify,
}

// errUsage means the flag package already told the user what was wrong.
var errUsage = errors.New("usage")

// parseFlags parses flags wherever they stand among the positional
// arguments (`send --data d hello` and `send hello --data d` both work).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage // the flag package has said why (or printed -h)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("concord "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def, _ := defaultDataDir() // "" without a home: then --data is required
	data := fs.String("data", def, "the member's data directory (default: the window's, "+defaultDataDirName+")")
	return fs, data
}

// ntpFlag adds --ntp; the servers are stored in the data dir.
func ntpFlag(fs *flag.FlagSet) *string {
	return fs.String("ntp", "", "NTP servers, host[:port] separated by commas (default: public pools)")
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func requireData(data string) error {
	if data == "" {
		return errors.New("--data DIR is required (no home directory to default to)")
	}
	return nil
}

// parseWithData is parseFlags for a command that needs --data (data, read
// once parsed).
func parseWithData(fs *flag.FlagSet, data *string, args []string) ([]string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, requireData(*data)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("init", stderr)
	name := fs.String("name", "", "your name in the team (required)")
	team := fs.String("team", "", "the team's name (default: NAME's team)")
	listen := fs.String("listen", "/ip4/0.0.0.0/tcp/0", "multiaddr to listen on; port 0 picks one and keeps it")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	ntp := ntpFlag(fs)
	if _, err := parseWithData(fs, data, args); err != nil {
		return err
	}
	if err := node.ValidName(*name); err != nil {
		return fmt.Errorf("--name: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	timing, err := baseTiming()
	if err != nil {
		return err
	}
	cfg := node.Config{Dir: *data, Logger: newLogger(stderr, *logLevel), Listen: []string{*listen}, NTP: splitList(*ntp),
		Timing: timing}
	pid, err := node.Create(ctx, cfg, *team, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pid) // stdout stays the peer ID alone, for scripts
	d := dataArg(*data)
	fmt.Fprintf(stderr, "Team %q created in %s; you are its first member and admin.\nNext:\n", cmp.Or(*team, *name+"'s team"), *data)
	printSteps(stderr, [][2]string{
		{"concord run" + d, "start the member (keep it running: the other commands talk to it)"},
		{"concord invite" + d, "print an invite code for a teammate (single use, valid 24 h)"},
		{"concord join --name NAME --invite CODE", "on the teammate's computer; then concord run there"},
	})
	return nil
}

// printSteps prints commands and what they do, aligned.
func printSteps(w io.Writer, steps [][2]string) {
	width := 0
	for _, s := range steps {
		width = max(width, len(s[0]))
	}
	for _, s := range steps {
		fmt.Fprintf(w, "  %-*s  %s\n", width, s[0], s[1])
	}
}

// dataArg is " --data DIR" for a hint, or "" for the default data dir.
func dataArg(dir string) string {
	if def, err := defaultDataDir(); err == nil && def == dir {
		return ""
	}
	return " --data " + dir
}

func cmdJoin(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("join", stderr)
	name := fs.String("name", "", "your name in the team (required)")
	code := fs.String("invite", "", "the invite code (required)")
	listen := fs.String("listen", "/ip4/0.0.0.0/tcp/0", "multiaddr to listen on; port 0 picks one and keeps it")
	ntp := ntpFlag(fs)
	if _, err := parseWithData(fs, data, args); err != nil {
		return err
	}
	if *code == "" {
		return errors.New("--invite CODE is required")
	}
	if err := node.ValidName(*name); err != nil {
		return fmt.Errorf("--name: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := node.Join(ctx, *data, *name, *code, []string{*listen}, splitList(*ntp))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	d := dataArg(*data)
	fmt.Fprintf(stderr, "Joined; this member's data is in %s.\nNext:\n", *data)
	printSteps(stderr, [][2]string{
		{"concord run" + d, "start the member (keep it running: the other commands talk to it)"},
		{"concord send" + d + ` "hello"`, "say hello to the team"},
	})
	return nil
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("run", stderr)
	headless := fs.Bool("headless", false, "run without a window (the default when there is no display or the build has no GUI)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	listen := fs.String("listen", "/ip4/0.0.0.0/tcp/0", "in the window, on first run: multiaddr a new member listens on (on loopback only, no LAN teams are looked for)")
	name := fs.String("name", "", "in the window, on first run: your name, filled in the form")
	minimized := fs.Bool("minimized", false, "start in the tray, the window hidden (as the start-at-login entry does); where there is no tray, the window opens")
	ntp := ntpFlag(fs)
	if _, err := parseWithData(fs, data, args); err != nil {
		return err
	}
	log := newLogger(stderr, *logLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	gui := !*headless && haveGUI && hasDisplay()
	if *ntp != "" && (!gui || node.HasMember(*data)) {
		// Stored, so the next run uses them too.
		conf, err := node.LoadConfig(*data)
		if err != nil {
			return err
		}
		conf.NTP = splitList(*ntp)
		if err := node.SaveConfig(*data, conf); err != nil {
			return err
		}
	}
	if gui {
		// The window handles first run (create or join a team) and serves
		// the same control socket once the member runs.
		return runGUI(ctx, *data, *listen, *name, *minimized, log)
	}
	timing, err := baseTiming()
	if err != nil {
		return err
	}
	n, err := node.Open(ctx, node.Config{Dir: *data, Logger: log, Clock: baseClock(), Timing: timing})
	if err != nil {
		return err
	}
	cs, err := control.Listen(n, *data, log)
	if err != nil {
		return errors.Join(err, n.Close())
	}
	log.Info("member running", "peer", n.ID(), "team", n.TeamName(), "addrs", strings.Join(n.Addrs(), " "))
	var removed error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case <-n.Removed():
		removed = node.RemovedError(*data)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(removed, cs.Close(sctx), n.Close())
}

// hasDisplay reports whether a window can be opened (X11 or Wayland).
// hasDisplay reports whether a window can open: on X11 and Wayland
// systems when a display is set; Windows and macOS always have one.
func hasDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// defaultDataDirName names defaultDataDir's answer for flag help.
var defaultDataDirName = map[bool]string{true: `%APPDATA%\Concord`, false: "~/.concord"}[runtime.GOOS == "windows"]

// defaultDataDir is where a member started without --data keeps its data,
// the window and the CLI alike: ~/.concord, as `make run` uses; on Windows
// %APPDATA%\Concord, where Windows programs keep a user's data (roaming
// profiles carry it; a dot-directory in the profile is a Unix habit).
func defaultDataDir() (string, error) {
	if runtime.GOOS == "windows" {
		dir, err := os.UserConfigDir() // %AppData%
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, "Concord"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".concord"), nil
}

func cmdSend(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("send", stderr)
	channel := fs.String("channel", "general", "channel to send to")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the message to be committed")
	noWait := fs.Bool("no-wait", false, "return as soon as the message is queued (durably); print its ID")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	text := strings.Join(pos, " ")
	if text == "-" {
		b, err := io.ReadAll(bufio.NewReader(os.Stdin))
		if err != nil {
			return err
		}
		text = strings.TrimRight(string(b), "\n")
	}
	if text == "" {
		return errors.New("nothing to send: give the message text as an argument (or - for stdin)")
	}
	if len(text) > storage.MaxTextBytes {
		return fmt.Errorf("the message is %d KiB, longer than the %d KiB a message's text may have: send a longer text as a file (concord attach FILE)",
			(len(text)+1023)>>10, storage.MaxTextBytes>>10)
	}
	return postID(*data, "/v1/send", control.SendRequest{Channel: *channel, Text: text, TimeoutMS: timeout.Milliseconds(), NoWait: *noWait},
		*timeout+5*time.Second, stdout)
}

// postID posts body to the running member and prints the message ID it
// answers with.
func postID(data, path string, body any, timeout time.Duration, stdout io.Writer) error {
	c, err := control.NewClient(data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out struct{ ID string }
	if err := c.Call(ctx, http.MethodPost, path, body, &out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, out.ID)
	return nil
}

func cmdHistory(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("history", stderr)
	channel := fs.String("channel", "general", "channel to read")
	limit := fs.Int("limit", 0, "only the last N messages (0: all)")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	q := url.Values{"channel": {*channel}, "limit": {strconv.Itoa(*limit)}}
	return printRows(*data, "/v1/history", q, *asJSON, stdout)
}

// printRows prints the history rows the member of data streams from path:
// as they come with asJSON, else one readable line each.
func printRows(data, path string, q url.Values, asJSON bool, stdout io.Writer) error {
	c, err := control.NewClient(data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.RequestTimeout)
	defer cancel()
	if asJSON {
		return c.Stream(ctx, stdout, path, q)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.Stream(ctx, pw, path, q)) }()
	dec := json.NewDecoder(pr)
	seen := map[string]control.HistoryRow{}
	for {
		var row control.HistoryRow
		if err := dec.Decode(&row); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			pr.CloseWithError(err)
			return err
		}
		printHistoryRow(stdout, row, seen)
	}
}

func cmdChannels(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("channels", stderr)
	create := fs.String("create", "", "create a channel with this name")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *create != "" {
		var out map[string]string
		if err := callMember(*data, http.MethodPost, "/v1/channels", map[string]string{"name": *create}, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created #%s\n", *create)
		return nil
	}
	var rows []control.ChannelRow
	if err := callMember(*data, http.MethodGet, "/v1/channels", nil, &rows); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, r := range rows {
		if *asJSON {
			_ = enc.Encode(r)
		} else {
			fmt.Fprintf(stdout, "#%s\t%d messages\n", r.Name, r.Messages)
		}
	}
	return nil
}

func printStatus(w io.Writer, st control.Status) {
	leader := cmp.Or(st.Leader, "none (no quorum?)")
	fmt.Fprintf(w, "member   %s (%s)\nteam     %s\nrole     %s\nraft     %s\nleader   %s\nvoters   %d, non-voters %d\nindex    commit %d, applied %d\n",
		st.Name, st.ID, st.Team, cmp.Or(st.Role, "(joining)"), st.RaftState, leader, len(st.Voters), len(st.Nonvoters), st.CommitIndex, st.AppliedIndex)
	for _, p := range st.Peers {
		state := "offline"
		if p.Healthy {
			state = "online"
		}
		fmt.Fprintf(w, "peer     %s %s (%s)\n", p.Name, state, p.ID)
	}
	if st.Disk.State != "" {
		fmt.Fprintf(w, "disk     %s, %d MB free\n", st.Disk.State, st.Disk.FreeBytes>>20)
	}
	if st.Disk.State == "full" {
		fmt.Fprintf(w, "         %s\n", node.ErrDiskFull)
	}
	fmt.Fprintf(w, "release  %s, team version %d\n", st.Release, st.TeamVersion)
	if st.BlockedOnUpgrade != nil {
		fmt.Fprintf(w, "         %s\n", version.NeedsUpgrade(strings.TrimPrefix(*st.BlockedOnUpgrade, "unknown")))
	}
}

func cmdInvite(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("invite", stderr)
	ttl := fs.Duration("ttl", node.DefaultInviteTTL, "how long the invite stays valid (1m to 720h); it works once")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var out struct{ Code string }
	if err := callMember(*data, http.MethodPost, "/v1/invite", control.InviteRequest{TTLSeconds: int64(ttl.Seconds())}, &out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, out.Code)
	return nil
}

func printTime(w io.Writer, t control.Time) {
	fmt.Fprintf(w, "source   %s %s\noffset   %.3f ms (±%.3f ms, rtt %.3f ms)\n", t.Source, t.Server, t.OffsetMS, t.ErrorMS, t.RTTMS)
	if t.LastSync != nil {
		fmt.Fprintf(w, "synced   %s\n", *t.LastSync)
	}
	if t.Err != "" {
		fmt.Fprintf(w, "ntp      %s\n", t.Err)
	}
}

// showCmd makes a subcommand that prints what the member serves at path:
// JSON with --json, else the human form.
func showCmd[T any](name, path string, human func(w io.Writer, v T)) command {
	return func(args []string, stdout, stderr io.Writer) error {
		fs, data := newFlags(name, stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		var v T
		if err := callMember(*data, http.MethodGet, path, nil, &v); err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(v)
		}
		human(stdout, v)
		return nil
	}
}

// listCmd makes a subcommand that prints the list the member serves at
// path: one JSON object per line with --json, else one line per row.
func listCmd[T any](name, path string, human func(w io.Writer, row T), empty string) command {
	return func(args []string, stdout, stderr io.Writer) error {
		fs, data := newFlags(name, stderr)
		asJSON := fs.Bool("json", false, "one JSON object per line")
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		var rows []T
		if err := callMember(*data, http.MethodGet, path, nil, &rows); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if *asJSON {
				_ = enc.Encode(r)
			} else {
				human(stdout, r)
			}
		}
		if len(rows) == 0 && !*asJSON && empty != "" {
			fmt.Fprintln(stdout, empty)
		}
		return nil
	}
}

func printOutboxRow(w io.Writer, r control.OutboxRow) {
	line := fmt.Sprintf("%s  %-6s #%s %q", r.ID, r.State, r.Channel, r.Text)
	if r.Reason != "" {
		line += fmt.Sprintf("  (%d attempts: %s)", r.Attempts, r.Reason)
	}
	fmt.Fprintln(w, line)
}

// callMember asks the running member of data one question over its control
// socket and decodes the JSON answer into out.
func callMember(data, method, path string, body, out any) error {
	c, err := control.NewClient(data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.RequestTimeout)
	defer cancel()
	return c.Call(ctx, method, path, body, out)
}
