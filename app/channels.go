package app

import (
	"fmt"
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
	names   []string
	titles  map[string]string            // shown instead of "# name" (private conversations)
	title   func(storage.Channel) string // sets titles; nil: "# name"
	unread  map[string]int
	muted   map[string]bool // their unread counts are shown muted
	current string

	list      *widget.List
	add       *widget.Button
	newName   *widget.Entry
	createBtn *widget.Button
	form      *fyne.Container
	errLabel  *widget.Label
	content   fyne.CanvasObject

	onOpen   func(name string)
	onCreate func(name string)
}

func newChannelView(onOpen, onCreate func(string)) *channelView {
	v := &channelView{unread: map[string]int{}, onOpen: onOpen, onCreate: onCreate}
	v.list = widget.NewList(
		func() int { return len(v.names) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("")
			name.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, nil, widget.NewLabel(""), name)
		},
		v.update,
	)
	v.list.OnSelected = func(id widget.ListItemID) {
		if id >= 0 && id < len(v.names) && v.names[id] != v.current {
			v.onOpen(v.names[id])
		}
	}
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
	v.content = container.NewBorder(container.NewVBox(head, v.form, v.errLabel), nil, nil, nil, v.list)
	return v
}

func (v *channelView) update(id widget.ListItemID, o fyne.CanvasObject) {
	if id < 0 || id >= len(v.names) {
		return
	}
	name := v.names[id]
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
	v.titles = map[string]string{}
	for _, c := range chs {
		names = append(names, c.Name)
		if c.Members != nil && v.title != nil {
			v.titles[c.Name] = v.title(c)
		}
	}
	sort.Strings(names)
	v.names = names
	v.list.Refresh()
	v.selectCurrent()
}

// has reports whether the channel is listed.
func (v *channelView) has(name string) bool {
	for _, n := range v.names {
		if n == name {
			return true
		}
	}
	return false
}

// setCurrent marks name as open and clears its unread count.
func (v *channelView) setCurrent(name string) {
	v.current = name
	delete(v.unread, name)
	v.selectCurrent()
	v.list.Refresh()
}

func (v *channelView) selectCurrent() {
	for i, n := range v.names {
		if n == v.current {
			v.list.Select(i)
			return
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
