package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// defaultChannel is opened first when it exists.
const defaultChannel = "general"

// chat is the main window content: channels on the left, the open channel's
// messages and the composer on the right, the status bar at the bottom and,
// while the disk is low or full, a banner at the top.
// All its fields are used on the UI thread only.
type chat struct {
	u        *UI
	channels *channelView
	messages *messageView
	composer *composer
	status   *statusBar
	disk     *diskBanner
	panel    *memberPanel
	title    *widget.Label
	people   *widget.Button // shows or hides the member panel
	gear     *widget.Button
	settings *settingsDialog // the open settings dialog, if any

	// Search, private conversations and files (search.go, dm.go, files.go).
	search    *searchView
	side      *fyne.Container // the member panel or the search results
	files     *transfers
	attachBtn *widget.Button

	// The last dialogs opened, for tests.
	confirm    *dialog.ConfirmDialog
	inviteCode *widget.Label
	copyCode   *widget.Button
	picker     *widget.CheckGroup // members to write to, in "New message"
	pickerForm *dialog.FormDialog
	content    fyne.CanvasObject

	current string
	self    string
	roles   map[string]string // member ID -> role (admins delete anyone's messages)
	names   map[string]string // member ID -> name
	members bool              // a Members call is under way
	pending pendingSet        // the user's uncommitted messages per channel
	muted   map[string]bool   // channels that do not notify

	// Message actions: the composer replies to replyTo or edits editing;
	// a jump to a reply's parent pages older messages until it is found.
	bar         *composeBar
	completion  *completion
	muteBtn     *widget.Button
	pinsBtn     *widget.Button    // the open channel's pins (hidden when none)
	tools       *fyne.Container   // the header's buttons: relaid out when pinsBtn shows
	pins        []storage.Message // the open channel's pinned messages
	replyTo     string
	editing     string
	jumping     string
	menuShown   *fyne.Menu    // the last message menu, for tests
	reactPicker *widget.PopUp // the last reaction picker, for tests
	lastError   string        // the last action error shown, for tests
}

func newChat(u *UI) *chat {
	c := &chat{u: u, names: map[string]string{}, roles: map[string]string{}, pending: pendingSet{}, muted: map[string]bool{}}
	c.loadMuted()
	c.channels = newChannelView(c.open, c.createChannel)
	c.channels.muted = c.muted
	c.channels.title = c.conversationTitle
	c.channels.onNewDM = c.newConversation
	c.messages = newMessageView(u.cfg.Location, u.cfg.Now, u.cfg.MaxMessages)
	c.messages.names = c.name
	c.messages.onTop = c.loadOlder
	c.messages.onRetry = c.retry
	c.messages.onBottom = c.loadNewer
	c.messages.onSave = c.saveFile
	c.messages.thumbs = newThumbCache(u)
	c.messages.thumbs.onReady = c.messages.redraw
	c.messages.thumbs.inUse = c.messages.showsFile
	c.composer = newComposer(c.send)
	c.composer.tooLong = func(n int) {
		dialog.ShowInformation("Message too long", fmt.Sprintf("This message is %d KiB; a message may be at most %d KiB.\nShorten it, or send it as a file (the paperclip).",
			(n+1023)>>10, storage.MaxTextBytes>>10), c.u.cfg.Window)
	}
	c.initActions()
	c.status = newStatusBar()
	c.disk = newDiskBanner()
	c.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.panel = newMemberPanel(c)
	c.people = widget.NewButtonWithIcon("", theme.AccountIcon(), c.toggleMembers)
	c.gear = widget.NewButtonWithIcon("", theme.SettingsIcon(), c.openSettings)
	c.search = newSearchView(c)
	c.tools = container.NewHBox(c.search.field, c.pinsBtn, c.muteBtn, c.people, c.gear)
	head := container.NewBorder(nil, nil, nil, c.tools, c.title)
	middle := container.NewBorder(head, c.bottom(), nil, nil, c.messages.content)
	c.side = container.NewStack(c.panel.content, c.search.content)
	right := container.NewHSplit(middle, c.side)
	right.Offset = 0.75
	split := container.NewHSplit(c.channels.content, right)
	split.Offset = 0.22
	c.content = container.NewBorder(c.disk.content, c.status.content, nil, nil, split)
	return c
}

// start loads status, members and channels, then opens a channel.
func (c *chat) start() {
	c.refreshStatus()
	c.refreshMembers()
	c.loadChannels(c.openFirst)
}

// openFirst opens #general (or the first channel) when none is open yet: a
// member that just joined learns the channels a moment after its window
// appears.
func (c *chat) openFirst() {
	if c.current == "" && len(c.channels.names) > 0 {
		first := c.channels.names[0]
		if c.channels.has(defaultChannel) {
			first = defaultChannel
		}
		c.open(first)
	}
}

// handle applies one Backend event.
func (c *chat) handle(ev Event) {
	switch ev.Kind {
	case EventMessage:
		m := ev.Message
		if _, ok := c.names[m.Author]; !ok {
			c.refreshMembers()
		}
		if !c.channels.has(m.Channel) {
			c.refreshChannels()
		}
		c.pending.committed(m.Channel, m.ID)
		c.messages.pend = c.pending[c.current]
		if m.Channel != c.current {
			if m.Author == c.self {
				return // written here or with the CLI: not news
			}
			c.channels.bump(m.Channel)
			c.notify(m.Channel, m.Author, m.Text)
			return
		}
		follow := c.messages.following()
		added := c.messages.add(m)
		if added && m.Author != c.self {
			c.notify(m.Channel, m.Author, m.Text)
		}
		if added && (follow || m.Author == c.self) {
			c.messages.scrollToBottom()
		}
	case EventStatus:
		c.refreshStatus()
		c.refreshPins()    // pins made elsewhere (another member, the CLI)
		c.refreshMembers() // who is online and who leads
	case EventChannels:
		c.refreshChannels()
	case EventChanged:
		c.changed(ev.Message)
	case EventStale:
		if c.current != "" {
			c.reload()
		}
	}
}

// open shows channel name, loads its newest page, and focuses the composer.
func (c *chat) open(name string) {
	c.current = name
	c.reload()
	if cv := c.u.cfg.Window.Canvas(); cv != nil {
		cv.Focus(c.composer)
	}
}

// reload shows the open channel's newest page again.
func (c *chat) reload() {
	c.enter(c.current)
	c.messages.loading = true
	c.fetch(c.current, 0)
}

// enter makes channel name the open one, with no messages shown yet and
// no reply, edit, completion or jump in progress.
func (c *chat) enter(name string) {
	c.current = name
	c.title.SetText(c.channels.heading(name))
	c.channels.setCurrent(name)
	c.cancelCompose()
	c.completion.close()
	c.jumping, c.messages.target = "", ""
	c.showMute()
	c.pins = nil
	c.pinsBtn.Hide()
	c.refreshPins()
	c.messages.reset()
	c.messages.pend = c.pending[name]
}

// loadOlder fetches the page before the oldest message shown.
func (c *chat) loadOlder() {
	if c.current == "" || c.messages.loading {
		return
	}
	c.messages.loading = true
	c.fetch(c.current, c.messages.oldestSeq())
}

func (c *chat) fetch(channel string, before uint64) {
	limit := c.u.cfg.PageSize
	var page []storage.Message
	c.u.background(func(ctx context.Context) (err error) {
		page, err = c.u.cfg.Backend.History(ctx, channel, before, limit)
		return err
	}, func(err error) {
		if channel != c.current {
			return // the user moved on
		}
		if err != nil {
			c.messages.loading, c.jumping = false, ""
			c.u.log.Warn("history", "channel", channel, "err", err)
			c.messages.hasOlder = false
			return
		}
		// Still "loading" while the rows are redrawn at the old offset, so
		// row 0 passing by does not ask for the next page at once.
		c.messages.addOlder(page, limit)
		// `make gui-bench` times start-to-interactive by "channel shown"
		// and counts pages fetched on scrolling by "channel page".
		if before == 0 {
			c.messages.scrollToBottom()
			c.u.log.Info("channel shown", "channel", channel, "messages", len(page))
			if f := c.u.cfg.Shown; f != nil {
				c.u.cfg.Shown = nil
				f()
			}
		} else {
			c.u.log.Info("channel page", "channel", channel, "before", before, "messages", len(page))
		}
		c.messages.loading = false
		if c.jumping != "" {
			c.paged()
		} else if c.messages.hasOlder && !c.messages.overflows() {
			c.loadOlder() // nothing to scroll yet: fill the view
		}
	})
}

// send shows text at once as "sending…", then as sent, queued or failed.
func (c *chat) send(text string) {
	if c.current == "" {
		return
	}
	if c.editing != "" {
		c.saveEdit(text)
		return
	}
	channel := c.current
	replyTo := c.replyTo
	if c.messages.hasNewer {
		c.open(channel) // back to the newest, where the message goes
	}
	p := &pending{text: text, sentAt: c.u.cfg.Now(), state: stateSending, replyTo: replyTo}
	c.cancelCompose()
	c.pending.add(channel, p)
	c.messages.pend = c.pending[channel]
	c.messages.rebuild()
	c.messages.scrollToBottom()
	c.deliver(channel, p)
}

// retry sends a failed message again: one the outbox never took (no ID)
// as a new message, one the team refused by its ID, so it keeps its place
// and cannot arrive twice.
func (c *chat) retry(p *pending) {
	if c.current == "" || p.state != stateFailed {
		return
	}
	p.state = stateSending
	c.messages.rebuild()
	c.deliver(c.current, p)
}

// deliver hands p to the Backend in the background and records the outcome.
func (c *chat) deliver(channel string, p *pending) {
	id := p.id // read here: sent writes it on the UI thread
	c.u.cfg.Go(func() {
		ctx, cancel := context.WithTimeout(c.u.ctx, c.u.cfg.SendTimeout)
		defer cancel()
		var err error
		switch {
		case id == "" && p.replyTo != "":
			id, err = c.u.cfg.Backend.Reply(ctx, p.replyTo, p.text)
		case id == "":
			id, err = c.u.cfg.Backend.Send(ctx, channel, p.text)
		default:
			err = c.u.cfg.Backend.Retry(ctx, id)
		}
		c.u.cfg.Do(func() { c.sent(channel, p, id, err) })
	})
}

// sent records the outcome of a send of p.
func (c *chat) sent(channel string, p *pending, id string, err error) {
	p.id = id
	switch {
	case err == nil:
		p.state = stateSent
	case errors.Is(err, ErrQueued) || (id != "" && errors.Is(err, context.DeadlineExceeded)):
		p.state = stateQueued
	default:
		c.u.log.Warn("send failed", "channel", channel, "err", err)
		p.state = stateFailed
	}
	if channel != c.current {
		return
	}
	if id != "" && c.messages.committed(id) {
		// The commit event came before Send returned.
		c.pending.remove(channel, p)
		c.messages.pend = c.pending[channel]
	}
	c.messages.rebuild()
}

func (c *chat) createChannel(name string) {
	c.u.background(func(ctx context.Context) error {
		return c.u.cfg.Backend.CreateChannel(ctx, name)
	}, func(err error) {
		c.channels.created(err)
		if err == nil {
			c.refreshChannels()
			c.open(name)
		}
	})
}

func (c *chat) refreshChannels() { c.loadChannels(c.openFirst) }

// loadChannels reloads the channel list, then runs then on the UI thread.
func (c *chat) loadChannels(then func()) {
	var chs []storage.Channel
	c.u.background(func(ctx context.Context) (err error) {
		chs, err = c.u.cfg.Backend.Channels(ctx)
		return err
	}, func(err error) {
		if err != nil {
			c.u.log.Warn("channels", "err", err)
			return
		}
		c.channels.setChannels(chs)
		then()
	})
}

func (c *chat) refreshStatus() {
	var st Status
	c.u.background(func(ctx context.Context) (err error) {
		st, err = c.u.cfg.Backend.Status(ctx)
		return err
	}, func(err error) {
		if err != nil {
			c.u.log.Warn("status", "err", err)
			return
		}
		if c.self != st.Self {
			c.self = st.Self
			c.messages.self = st.Self
			c.messages.rebuild()
		}
		c.status.set(st)
		c.disk.set(st)
		if w := c.u.cfg.Window; w != nil && st.Team != "" && w.Title() != "Concord — "+st.Team {
			w.SetTitle("Concord — " + st.Team)
		}
	})
}

// name is the display name of a member ID.
func (c *chat) name(id string) string {
	if n := c.names[id]; n != "" {
		return n
	}
	return shortID(id)
}

// conversationTitle names a private conversation after the others in it.
func (c *chat) conversationTitle(ch storage.Channel) string {
	var who []string
	for _, id := range ch.Members {
		if id != c.self {
			who = append(who, c.name(id))
		}
	}
	return "🔒 " + strings.Join(who, ", ")
}
