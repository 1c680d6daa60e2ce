package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/internal/human"
	"concord/storage"
)

// Files: the paperclip beside the composer (or Ctrl+O) attaches a file to
// the open channel; a file's "save" link fetches it to a chosen path. Both
// show a progress bar above the composer while they run.

// attachShortcut opens the file dialog to attach a file.
var attachShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: fyne.KeyModifierShortcutDefault}

// fileCallTimeout bounds an upload or a download (100 MB on a slow LAN).
const fileCallTimeout = 15 * time.Minute

// transfers lists the uploads and downloads under way.
type transfers struct {
	box    *fyne.Container
	active []*transfer
}

// transfer is one upload or download with its progress bar.
type transfer struct {
	label *widget.Label
	bar   *widget.ProgressBar
	row   fyne.CanvasObject
	shown atomic.Int64 // the last per-mille value handed to the UI thread
}

// bottom is the composer with the attach button, under the transfers.
func (c *chat) bottom() fyne.CanvasObject {
	c.files = &transfers{box: container.NewVBox()}
	c.attachBtn = widget.NewButtonWithIcon("", theme.MailAttachmentIcon(), c.pickFile)
	above := container.NewVBox(c.files.box, c.completion.box, c.bar.content)
	return container.NewBorder(above, nil, container.NewVBox(c.attachBtn), nil, c.composer)
}

// start shows a new transfer called what.
func (t *transfers) start(what string) *transfer {
	tr := &transfer{label: widget.NewLabel(what), bar: widget.NewProgressBar()}
	tr.shown.Store(-1)
	tr.row = container.NewBorder(nil, nil, tr.label, nil, tr.bar)
	t.box.Add(tr.row)
	t.active = append(t.active, tr)
	return tr
}

// done removes tr.
func (t *transfers) done(tr *transfer) {
	t.box.Remove(tr.row)
	t.active = slices.DeleteFunc(t.active, func(x *transfer) bool { return x == tr })
}

// progress returns a callback for the Backend that moves tr's bar on the
// UI thread, at most once per tenth of a percent.
func (c *chat) progress(tr *transfer) func(done, total int64) {
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		pm := min(done*1000/total, 1000)
		if tr.shown.Swap(pm) == pm {
			return
		}
		c.u.cfg.Do(func() { tr.bar.SetValue(float64(pm) / 1000) })
	}
}

// pickFile asks for a file to attach to the open channel.
func (c *chat) pickFile() {
	if c.current == "" {
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		_ = r.Close()
		c.attach(path)
	}, c.u.cfg.Window)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// attach sends the file at path to the open channel with a progress bar.
func (c *chat) attach(path string) {
	channel := c.current
	tr := c.files.start("Sending " + filepath.Base(path))
	progress := c.progress(tr)
	c.u.cfg.Go(func() {
		ctx, cancel := context.WithTimeout(c.u.ctx, fileCallTimeout)
		defer cancel()
		_, err := c.u.cfg.Backend.Attach(ctx, channel, path, progress)
		c.u.cfg.Do(func() {
			c.files.done(tr)
			switch {
			case err == nil:
			case errors.Is(err, ErrQueued):
				c.u.log.Info("attachment queued", "channel", channel, "err", err)
			default:
				c.u.log.Warn("attach", "channel", channel, "path", path, "err", err)
				dialog.ShowInformation("File not sent", "Could not send "+filepath.Base(path)+": "+oneLine(err), c.u.cfg.Window)
			}
		})
	})
}

// saveFile asks where to save m's file, then fetches it there.
func (c *chat) saveFile(m storage.Message) {
	if m.File == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		path := w.URI().Path()
		_ = w.Close()
		c.save(m, path)
	}, c.u.cfg.Window)
	d.SetFileName(m.File.Name)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// save fetches m's file to path with a progress bar.
func (c *chat) save(m storage.Message, path string) {
	tr := c.files.start(fmt.Sprintf("Saving %s (%s)", m.File.Name, human.Bytes(m.File.Size)))
	progress := c.progress(tr)
	c.u.cfg.Go(func() {
		ctx, cancel := context.WithTimeout(c.u.ctx, fileCallTimeout)
		defer cancel()
		err := c.u.cfg.Backend.Fetch(ctx, m.ID, path, progress)
		c.u.cfg.Do(func() {
			c.files.done(tr)
			if err != nil {
				c.u.log.Warn("save file", "id", m.ID, "path", path, "err", err)
				dialog.ShowInformation("File not saved", "Could not save "+m.File.Name+": "+oneLine(err), c.u.cfg.Window)
			}
		})
	})
}
