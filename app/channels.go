package app

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// channelView is the channel list with unread counts, and a "+" that opens
// a one-line form to create a channel.
type channelView struct {
	names   []string                     // public channels
	dms     []string                     // private conversations, listed apart
	titles  map[string]string            // shown instead of "# name" (private conversations)
	title   func(storage.Channel) string // sets titles; nil: "# name"
	unread  map[string]int
	muted   map[string]bool // their unread counts are shown muted
	current string

	list      *widget.List
	dmList    *widget.List
	newDM     *widget.Button // starts a private conversation
	add       *widget.Button
	newName   *widget.Entry
	createBtn *widget.Button
	form      *fyne.Container
	errLabel  *widget.Label
	content   fyne.CanvasObject

	onOpen   func(name string)
	onCreate func(name string)
	onNewDM  func() // the "+" of the private conversations
}

func newChannelView(onOpen, onCreate func(string)) *channelView {
	v := &channelView{unread: map[string]int{}, onOpen: onOpen, onCreate: onCreate}
	v.list = v.newList(&v.names)
	v.dmList = v.newList(&v.dms)
	v.newName = widget.NewEntry()
	v.newName.SetPlaceHolder("new channel")
	v.newName.OnSubmitted = func(string) { v.submit() }
	v.createBtn = widget.NewButton("Create", v.submit)
	v.form = container.NewBorder(nil, nil, nil, v.createBtn, v.newName)
	v.form.Hide()
	v.errLabel = widget.NewLabel("")
	v.errLabel.Importance = widget.DangerImportance
	v.errLabel.Truncation = fyne.TextTruncateEllipsis
	v.errLabel.Hide()
	v.add = widget.NewButtonWithIcon("", theme.ContentAddIcon(), v.toggleForm)
	head := container.NewBorder(nil, nil, nil, v.add, widget.NewLabelWithStyle("Channels", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	v.newDM = widget.NewButtonWithIcon("", theme.ContentAddIcon(), func() {
		if v.onNewDM != nil {
			v.onNewDM()
		}
	})
	dmHead := container.NewBorder(nil, nil, nil, v.newDM, widget.NewLabelWithStyle("Direct messages", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	chans := container.NewBorder(container.NewVBox(head, v.form, v.errLabel), nil, nil, nil, v.list)
	split := container.NewVSplit(chans, container.NewBorder(dmHead, nil, nil, nil, v.dmList))
	split.Offset = 0.6
	v.content = split
	return v
}

// newList lists *names (the public channels or the conversations).
func (v *channelView) newList(names *[]string) *widget.List {
	l := widget.NewList(
		func() int { return len(*names) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("")
			name.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, nil, widget.NewLabel(""), name)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= 0 && id < len(*names) {
				v.update((*names)[id], o)
			}
		},
	)
	l.OnSelected = func(id widget.ListItemID) {
		if id >= 0 && id < len(*names) && (*names)[id] != v.current {
			v.onOpen((*names)[id])
		}
	}
	return l
}

func (v *channelView) update(name string, o fyne.CanvasObject) {
	label, count, ok := rowLabels(o)
	if !ok {
		return
	}
	label.TextStyle = fyne.TextStyle{Bold: v.unread[name] > 0 && !v.muted[name]}
	label.Importance, count.Importance = widget.MediumImportance, widget.MediumImportance
	if v.muted[name] {
		label.Importance, count.Importance = widget.LowImportance, widget.LowImportance
	}
	if t, ok := v.titles[name]; ok {
		label.SetText(t)
	} else {
		label.SetText("# " + name)
	}
	if n := v.unread[name]; n > 0 {
		count.SetText(fmt.Sprint(n))
		count.Show()
	} else {
		count.SetText("")
		count.Hide()
	}
}

// setChannels replaces the list, keeping unread counts and the selection.
func (v *channelView) setChannels(chs []storage.Channel) {
	names := make([]string, 0, len(chs))
	var dms []string
	v.titles = map[string]string{}
	for _, c := range chs {
		if c.Members == nil {
			names = append(names, c.Name)
			continue
		}
		dms = append(dms, c.Name)
		if v.title != nil {
			v.titles[c.Name] = v.title(c)
		}
	}
	sort.Strings(names)
	sort.Slice(dms, func(i, j int) bool { return v.titles[dms[i]] < v.titles[dms[j]] })
	v.names, v.dms = names, dms
	v.list.Refresh()
	v.dmList.Refresh()
	v.selectCurrent()
}

// has reports whether the channel is listed.
func (v *channelView) has(name string) bool {
	return slices.Contains(v.names, name) || slices.Contains(v.dms, name)
}

// heading is the title of channel name above its messages.
func (v *channelView) heading(name string) string {
	if t, ok := v.titles[name]; ok {
		return t
	}
	return "# " + name
}

// setCurrent marks name as open and clears its unread count.
func (v *channelView) setCurrent(name string) {
	v.current = name
	delete(v.unread, name)
	v.selectCurrent()
	v.list.Refresh()
	v.dmList.Refresh()
}

// selectCurrent selects the open channel in its list and nothing in the
// other.
func (v *channelView) selectCurrent() {
	for _, l := range []struct {
		list  *widget.List
		names []string
	}{{v.list, v.names}, {v.dmList, v.dms}} {
		if i := slices.Index(l.names, v.current); i >= 0 {
			l.list.Select(i)
		} else {
			l.list.UnselectAll()
		}
	}
}

// bump counts a message in a channel that is not open.
func (v *channelView) bump(name string) {
	if name == v.current {
		return
	}
	v.unread[name]++
	v.list.Refresh()
	v.dmList.Refresh()
}

func (v *channelView) toggleForm() {
	if v.form.Visible() {
		v.form.Hide()
		v.errLabel.Hide()
		return
	}
	v.form.Show()
	if c := fyne.CurrentApp(); c != nil {
		if w := c.Driver().CanvasForObject(v.newName); w != nil {
			w.Focus(v.newName)
		}
	}
}

func (v *channelView) submit() {
	name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v.newName.Text), "#"))
	if name == "" {
		v.showError("Enter a channel name.")
		return
	}
	v.errLabel.Hide()
	v.createBtn.Disable()
	v.onCreate(name)
}

// created is called on the UI thread when creating finished.
func (v *channelView) created(err error) {
	v.createBtn.Enable()
	if err != nil {
		v.showError("Could not create the channel: " + oneLine(err))
		return
	}
	v.newName.SetText("")
	v.form.Hide()
}

func (v *channelView) showError(msg string) {
	v.errLabel.SetText(msg)
	v.errLabel.Show()
}

// rowLabels takes apart a row made by the lists' CreateItem: a Border
// container of a main label and a trailing label.
func rowLabels(o fyne.CanvasObject) (main, trailing *widget.Label, ok bool) {
	c, ok := o.(*fyne.Container)
	if !ok || len(c.Objects) < 2 {
		return nil, nil, false
	}
	main, ok1 := c.Objects[0].(*widget.Label)
	trailing, ok2 := c.Objects[1].(*widget.Label)
	return main, trailing, ok1 && ok2
}
