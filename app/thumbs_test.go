package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"

	"concord/storage"
)

// pngBytes encodes a w×h image.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// thumbRows returns the thumbnail rows of the message view.
func thumbRows(v *messageView) []*thumbSlice {
	var out []*thumbSlice
	for _, l := range v.lines {
		if l.slice != nil {
			out = append(out, l.slice)
		}
	}
	return out
}

// An image shows a thumbnail, scaled into its box, as slices over rows of
// the list's one height; it is decoded once and cached.
func TestImageThumbnail(t *testing.T) {
	h := newHarness(t)
	ref := h.fake.putBlob("cat.png", pngBytes(t, 640, 400))
	postFile(h, ref)
	c := h.openChat()
	h.settle() // the decoded thumbnail arrives on the UI thread
	rows := thumbRows(c.messages)
	if len(rows) == 0 {
		t.Fatalf("no thumbnail rows:\n%s", joined(c.messages))
	}
	th := rows[0].t
	if th.w != thumbW || th.h != thumbH {
		t.Fatalf("thumbnail %vx%v, want %vx%v", th.w, th.h, thumbW, thumbH)
	}
	rh := c.messages.rowHeight()
	if want := int(math.Ceil(float64(th.h / rh))); len(rows) != want {
		t.Fatalf("%d rows for a %v-high thumbnail and %v-high rows, want %d", len(rows), th.h, rh, want)
	}
	var covered float32
	for _, s := range rows {
		covered += s.h
	}
	if covered != th.h {
		t.Fatalf("slices cover %v of %v", covered, th.h)
	}
	// A row shows its slice and draws it into the gap below.
	row := newMsgRow(func(*pending) {}, &rowActions{})
	row.Resize(row.MinSize())
	test.WidgetRenderer(row.x.slice) // create the renderer
	row.set(line{lineExtras: lineExtras{slice: rows[1]}})
	if !row.x.slice.img.Visible() || row.x.slice.img.Size().Height != rows[1].h || row.x.slice.img.Image.Bounds().Dy() != int(rows[1].h) {
		t.Fatalf("slice image %v (%v), want height %v", row.x.slice.img.Size(), row.x.slice.img.Image.Bounds(), rows[1].h)
	}
	if row.MinSize() != newMsgRow(func(*pending) {}, &rowActions{}).MinSize() {
		t.Fatal("a thumbnail row is taller than a text row")
	}
	// Reopening the channel uses the cache.
	c.open("random")
	c.open("general")
	h.settle()
	if n := len(h.fake.opened); n != 1 {
		t.Fatalf("opened the file %d times, want once", n)
	}
}

// A big image not on this member is not fetched for a thumbnail; a small
// one is; an image with too many pixels is never decoded.
func TestThumbnailLimits(t *testing.T) {
	h := newHarness(t)
	small := h.fake.putBlob("small.png", pngBytes(t, 8, 8))
	big := h.fake.putBlob("big.png", pngBytes(t, 300, 300))
	h.ui.cfg.FetchImageBytes = small.Size
	huge := h.fake.putBlob("huge.png", hugePNG(t))
	h.fake.remote = map[string]bool{small.Hash: true, big.Hash: true}
	for _, r := range []storage.FileRef{small, big, huge} {
		postFile(h, r)
	}
	c := h.openChat()
	h.settle()
	shown := map[string]bool{}
	for _, s := range thumbRows(c.messages) {
		for _, r := range []storage.FileRef{small, big, huge} {
			if c.messages.thumbs.items[r.Hash] == s.t {
				shown[r.Name] = true
			}
		}
	}
	if !shown["small.png"] || shown["big.png"] || shown["huge.png"] {
		t.Fatalf("thumbnails shown for %v, want small.png only", shown)
	}
	if err := c.messages.thumbs.items[huge.Hash].err; err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("huge image: err %v", err)
	}
	if !errors.Is(c.messages.thumbs.items[big.Hash].err, ErrNotFetched) {
		t.Fatalf("big image: err %v", c.messages.thumbs.items[big.Hash].err)
	}
}

// hugePNG is a valid PNG header that claims 30000×30000 pixels.
func hugePNG(t *testing.T) []byte {
	b := pngBytes(t, 1, 1)
	// IHDR data starts at byte 16: width, height; its CRC follows the 13 bytes.
	binary.BigEndian.PutUint32(b[16:], 30000)
	binary.BigEndian.PutUint32(b[20:], 30000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// Thumbnails decode in the background: the messages show while a file is
// still being read, and the thumbnail follows.
func TestThumbnailOffUIThread(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	h := newHarness(t, func(c *Config) {
		c.Go = func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
		}
	})
	gate := make(chan struct{})
	h.fake.openGate = gate
	postFile(h, h.fake.putBlob("slow.png", pngBytes(t, 50, 50)))
	h.ui.ShowChat()
	for h.ui.chat == nil || len(h.ui.chat.messages.lines) == 0 {
		h.waitUI()
	}
	c := h.ui.chat
	if len(thumbRows(c.messages)) != 0 {
		t.Fatal("thumbnail before the file was read")
	}
	close(gate)
	for len(thumbRows(c.messages)) == 0 {
		h.waitUI()
	}
}

// The cache keeps at most maxThumbs thumbnails, but never drops one the
// view shows (it would decode it again on every redraw).
func TestThumbnailCacheBound(t *testing.T) {
	h := newHarness(t)
	c := h.openChat()
	tc := c.messages.thumbs
	var shown storage.FileRef
	for i := range maxThumbs + 10 {
		ref := h.fake.putBlob(fmt.Sprintf("p%d.png", i), pngBytes(t, 4, 4+i))
		if i == 0 {
			shown = ref
			h.push(Event{Kind: EventMessage, Message: postFile(h, ref)})
			continue
		}
		tc.get(ref)
	}
	h.settle()
	if len(tc.items) != maxThumbs || len(tc.order) != maxThumbs {
		t.Fatalf("%d thumbnails cached, want %d", len(tc.items), maxThumbs)
	}
	if tc.items[shown.Hash] == nil {
		t.Fatal("evicted the thumbnail on screen")
	}
}
