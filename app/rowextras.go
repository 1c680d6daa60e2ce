package app

import (
	"image"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"concord/storage"
)

// lineExtras is what a row shows besides its text: a file's "save" link
// and a slice of an image's thumbnail. A thumbnail spans several rows, one
// horizontal slice each, so every row keeps the same height (see line).
type lineExtras struct {
	save  func() // set on a file's line: save the file
	slice *thumbSlice
}

// thumbSlice is the part of a thumbnail one row shows.
type thumbSlice struct {
	t    *thumb
	y, h float32 // the rows of t.img, in its display units, this row shows
}

// decorate sets the extras of message m's lines (from start on) and adds
// rows for its thumbnail once it is decoded.
func (v *messageView) decorate(m storage.Message, start int) {
	fileLine := -1
	for i := start; i < len(v.lines); i++ {
		if v.lines[i].kind == lineText && m.File != nil && strings.HasPrefix(v.lines[i].text, "📎") {
			fileLine = i
			break
		}
	}
	if fileLine < 0 || m.Deleted {
		return
	}
	v.lines[fileLine].save = func() {
		if v.onSave != nil {
			v.onSave(m)
		}
	}
	if v.thumbs == nil || !isImage(*m.File) {
		return
	}
	t := v.thumbs.get(*m.File)
	if t == nil || t.img == nil {
		return
	}
	row := v.rowHeight()
	for y := float32(0); y < t.h; y += row {
		v.lines = append(v.lines, line{id: m.ID, highlight: v.lines[fileLine].highlight,
			lineExtras: lineExtras{slice: &thumbSlice{t: t, y: y, h: min(row, t.h-y)}}})
	}
}

// rowExtras are a row's widgets for its lineExtras.
type rowExtras struct {
	save  *widget.Hyperlink
	slice *sliceView
}

func newRowExtras() rowExtras {
	x := rowExtras{save: widget.NewHyperlink("save", nil)}
	x.save.Hide()
	x.slice = &sliceView{img: canvas.NewImageFromImage(nil)}
	x.slice.img.ScaleMode = canvas.ImageScaleSmooth
	x.slice.ExtendBaseWidget(x.slice)
	return x
}

// set shows e.
func (x *rowExtras) set(e lineExtras) {
	if e.save != nil {
		x.save.OnTapped = e.save
		x.save.Show()
	} else {
		x.save.OnTapped = nil
		x.save.Hide()
	}
	x.slice.set(e.slice)
}

// sliceView draws a thumbSlice at the row's leading edge. It asks for no
// room (its MinSize is zero, so rows keep one height) and draws down into
// the gap below its row, so the slices of a thumbnail join up.
type sliceView struct {
	widget.BaseWidget
	img *canvas.Image
	s   *thumbSlice
}

func (w *sliceView) set(s *thumbSlice) {
	if s == w.s {
		return
	}
	w.s = s
	if s == nil {
		w.img.Image = nil
		w.img.Hide()
		return
	}
	b := s.t.img.Bounds()
	scale := float32(b.Dy()) / s.t.h
	y0 := b.Min.Y + int(s.y*scale)
	y1 := min(b.Min.Y+int((s.y+s.h)*scale+0.5), b.Max.Y)
	w.img.Image = s.t.img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(b.Min.X, y0, b.Max.X, y1))
	w.img.Show()
	w.img.Refresh()
	w.Refresh()
}

// CreateRenderer implements fyne.Widget.
func (w *sliceView) CreateRenderer() fyne.WidgetRenderer {
	w.img.Hide()
	return &sliceRenderer{w: w}
}

type sliceRenderer struct{ w *sliceView }

func (r *sliceRenderer) Layout(size fyne.Size) {
	s := r.w.s
	if s == nil {
		return
	}
	pad := theme.Padding()
	r.w.img.Move(fyne.NewPos(pad, 0))
	r.w.img.Resize(fyne.NewSize(s.t.w, s.h))
}

func (r *sliceRenderer) MinSize() fyne.Size           { return fyne.Size{} }
func (r *sliceRenderer) Refresh()                     { r.Layout(r.w.Size()) }
func (r *sliceRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.w.img} }
func (r *sliceRenderer) Destroy()                     {}

// redraw lays the rows out again (a thumbnail arrived), keeping the
// newest in view if they were.
func (v *messageView) redraw() {
	follow := v.following()
	v.rebuild()
	if follow {
		v.scrollToBottom()
	}
}

// showsFile reports whether a message shown has the file with this hash.
func (v *messageView) showsFile(hash string) bool {
	return slices.ContainsFunc(v.msgs, func(m storage.Message) bool { return m.File != nil && m.File.Hash == hash })
}
