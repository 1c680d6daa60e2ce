package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// postFile commits a message carrying ref in general.
func postFile(h *harness, ref storage.FileRef) storage.Message {
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	m := h.fake.commitLocked("general", "12D3KooWbob000", ref.Name)
	m.File = &ref
	h.fake.msgs["general"][m.Seq-1] = m
	return m
}

// The paperclip (and Ctrl+O) opens a file dialog; attaching shows a
// progress bar until the file is committed; the message shows the file with
// a "save" link, which saves it with a progress bar.
func TestAttachAndSave(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	if it := menuItem(t, h.win, "Attach a file…"); it.Shortcut == nil || it.Shortcut.ShortcutName() != attachShortcut.ShortcutName() {
		t.Fatal("Attach a file… has no Ctrl+O")
	}
	test.Tap(c.attachBtn)
	if h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("the paperclip opened no file dialog")
	}
	h.win.Canvas().Overlays().Top().Hide()

	path := filepath.Join(t.TempDir(), "report.bin")
	data := bytes.Repeat([]byte("concord "), 4096)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.attach(path)
	// The upload ran (inline in tests); its progress waits in the UI queue.
	if len(c.files.active) != 1 || c.files.active[0].label.Text != "Sending report.bin" {
		t.Fatalf("transfers %v, want one", c.files.active)
	}
	tr, between := c.files.active[0], false
	for len(c.files.active) > 0 {
		(<-h.q)()
		between = between || (tr.bar.Value > 0 && tr.bar.Value < 1)
	}
	if !between {
		t.Fatal("the progress bar never showed progress under way")
	}
	h.settle()
	if len(c.files.active) != 0 || len(c.files.box.Objects) != 0 {
		t.Fatal("the progress bar stays after the upload")
	}
	m := h.fake.msgs["general"][0]
	if m.File == nil || m.File.Name != "report.bin" || m.File.Size != int64(len(data)) {
		t.Fatalf("committed %+v", m)
	}
	h.push(Event{Kind: EventMessage, Message: m})
	var fileLine *line
	for i := range c.messages.lines {
		if c.messages.lines[i].save != nil {
			fileLine = &c.messages.lines[i]
		}
	}
	if fileLine == nil || fileLine.text != "📎 report.bin (32.0 KB)" {
		t.Fatalf("no file row with a save link:\n%s", joined(c.messages))
	}
	row := newMsgRow(func(*pending) {}, &rowActions{})
	row.set(*fileLine)
	if !row.x.save.Visible() {
		t.Fatal("save link hidden")
	}
	test.Tap(row.x.save)
	if h.win.Canvas().Overlays().Top() == nil {
		t.Fatal("save opened no file dialog")
	}
	h.win.Canvas().Overlays().Top().Hide()
	row.set(line{text: "plain"})
	if row.x.save.Visible() {
		t.Fatal("a recycled row keeps the save link")
	}

	out := filepath.Join(t.TempDir(), "saved.bin")
	c.save(m, out)
	if len(c.files.active) != 1 || !strings.HasPrefix(c.files.active[0].label.Text, "Saving report.bin") {
		t.Fatalf("transfers %v", c.files.active)
	}
	h.settle()
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("saved %d bytes, err %v", len(got), err)
	}
	if len(c.files.active) != 0 {
		t.Fatal("the progress bar stays after saving")
	}
}

// A file that cannot be sent or saved says why in one sentence.
func TestAttachAndSaveErrors(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	c.attach(filepath.Join(t.TempDir(), "missing.txt"))
	h.settle()
	if msg := dialogText(t, h); !strings.Contains(msg, "Could not send missing.txt") {
		t.Fatalf("dialog says %q", msg)
	}
	h.win.Canvas().Overlays().Top().Hide()
	h.fake.fetchErr = errors.New("no member that has it is online")
	m := postFile(h, h.fake.putBlob("a.pdf", []byte("pdf")))
	c.save(m, filepath.Join(t.TempDir(), "a.pdf"))
	h.settle()
	if msg := dialogText(t, h); !strings.Contains(msg, "Could not save a.pdf: No member that has it is online") {
		t.Fatalf("dialog says %q", msg)
	}
}

// dialogText is the text of the labels in the top overlay.
func dialogText(t *testing.T, h *harness) string {
	t.Helper()
	top := h.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog")
	}
	var out []string
	for _, o := range test.LaidOutObjects(top) {
		if l, ok := o.(*widget.Label); ok {
			out = append(out, l.Text)
		}
	}
	return strings.Join(out, " ")
}
