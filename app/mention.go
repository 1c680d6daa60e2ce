package app

import (
	"slices"
	"strings"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// maxCompletions is the most names the completion offers.
const maxCompletions = 6

// completion offers the members' names for the "@name" being typed in the
// composer, in a box above it (not a pop-up: an overlay would take the
// keyboard focus from the composer). Tab or Enter accepts, Up and Down
// move, Escape closes.
type completion struct {
	names   []string
	sel     int
	at, end int // rune offsets of the '@' and of the cursor
	list    *fyne.Container
	box     *fyne.Container
}

func newCompletion() *completion {
	c := &completion{list: container.NewVBox()}
	hint := widget.NewLabel("Tab or Enter inserts · ↑↓ choose · Esc closes")
	hint.SizeName = theme.SizeNameCaptionText
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameMenuBackground))
	bg.CornerRadius = theme.Size(theme.SizeNameInputRadius)
	c.box = container.NewStack(bg, container.NewBorder(nil, hint, nil, nil, c.list))
	c.box.Hide()
	return c
}

func (c *completion) open() bool { return c.box.Visible() && len(c.names) > 0 }

func (c *completion) close() {
	c.names = nil
	c.box.Hide()
}

// show offers names, the first selected.
func (c *completion) show(names []string, at, end int) {
	c.names, c.sel, c.at, c.end = names, 0, at, end
	c.render()
	c.box.Show()
}

func (c *completion) move(by int) {
	c.sel = (c.sel + by + len(c.names)) % len(c.names)
	c.render()
}

func (c *completion) render() {
	c.list.RemoveAll()
	for i, n := range c.names {
		l := widget.NewLabel("@" + n)
		if i == c.sel {
			l.Importance = widget.HighImportance
			l.TextStyle.Bold = true
		}
		c.list.Add(l)
	}
}

// mentionAt finds the "@partial" that ends at rune offset end of text: the
// offset of its '@' and the letters after it.
func mentionAt(text []rune, end int) (at int, partial string, ok bool) {
	end = min(end, len(text))
	i := end
	for i > 0 && isNameRune(text[i-1]) {
		i--
	}
	if i == 0 || text[i-1] != '@' || (i > 1 && isNameRune(text[i-2])) {
		return 0, "", false
	}
	return i - 1, string(text[i:end]), true
}

func isNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.'
}

// mentions reports whether text mentions name: "@name" not followed by a
// letter or digit, case-insensitive.
func mentions(text, name string) bool {
	if name == "" {
		return false
	}
	lower, at := strings.ToLower(text), "@"+strings.ToLower(name)
	for i := strings.Index(lower, at); i >= 0; {
		rest := []rune(lower[i+len(at):])
		if len(rest) == 0 || !unicode.IsLetter(rest[0]) && !unicode.IsDigit(rest[0]) {
			return true
		}
		next := strings.Index(lower[i+1:], at)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// updateCompletion offers the names matching the "@partial" before the
// composer's cursor, or closes the offer.
func (c *chat) updateCompletion() {
	text := []rune(c.composer.Text)
	at, partial, ok := mentionAt(text, c.composer.CursorTextOffset())
	if !ok {
		c.completion.close()
		return
	}
	var names []string
	for id, n := range c.names {
		if id != c.self && n != "" && strings.HasPrefix(strings.ToLower(n), strings.ToLower(partial)) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		c.completion.close()
		return
	}
	c.completion.show(names[:min(len(names), maxCompletions)], at, at+1+len([]rune(partial)))
}

// acceptCompletion replaces the "@partial" with the selected name.
func (c *chat) acceptCompletion() {
	cp := c.completion
	text := []rune(c.composer.Text)
	if !cp.open() || cp.end > len(text) {
		cp.close()
		return
	}
	ins := []rune("@" + cp.names[cp.sel] + " ")
	out := slices.Concat(text[:cp.at], ins, text[cp.end:])
	cp.close()
	c.composer.SetText(string(out))
	c.composer.moveCursor(cp.at + len(ins))
	c.updateCompletion()
}

// composerKey handles the keys that mean something beyond typing: it
// reports whether it used k.
func (c *chat) composerKey(k *fyne.KeyEvent) bool {
	if c.completion.open() {
		switch k.Name {
		case fyne.KeyTab, fyne.KeyReturn, fyne.KeyEnter:
			c.acceptCompletion()
			return true
		case fyne.KeyUp:
			c.completion.move(-1)
			return true
		case fyne.KeyDown:
			c.completion.move(1)
			return true
		case fyne.KeyEscape:
			c.completion.close()
			return true
		}
	}
	switch {
	case k.Name == fyne.KeyEscape && (c.editing != "" || c.replyTo != ""):
		c.cancelCompose()
		return true
	case k.Name == fyne.KeyUp && strings.TrimSpace(c.composer.Text) == "":
		return c.editLast()
	}
	return false
}
