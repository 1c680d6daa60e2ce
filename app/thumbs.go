package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for thumbnails
	_ "image/jpeg"
	_ "image/png"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/draw"

	"concord/storage"
)

// Thumbnails of attached images: decoded off the UI thread, one at a time,
// from this member's copy of the file (fetched first when the file is no
// larger than Config.FetchImageBytes), scaled to fit thumbBox and cached.

// Bounds of thumbnails.
const (
	thumbW, thumbH  = 320, 200 // the box a thumbnail fits in, in display units
	maxThumbPixels  = 50 << 20 // images with more pixels get none (a decoded 50 MP image is 200 MB)
	maxThumbs       = 64       // thumbnails cached
	thumbCallTimout = time.Minute
)

// DefaultFetchImageBytes is the largest image fetched to show its
// thumbnail: the size members fetch on their own anyway.
const DefaultFetchImageBytes = 10 << 20

// thumb is a decoded thumbnail, or why there is none.
type thumb struct {
	img  image.Image // nil while loading or when there is none
	w, h float32     // display size
	err  error
}

// thumbCache holds the thumbnails by file hash. Used on the UI thread;
// decoding happens in the background.
type thumbCache struct {
	u       *UI
	items   map[string]*thumb
	order   []string // hashes, oldest first, for eviction
	decode  sync.Mutex
	onReady func() // a thumbnail was decoded (on the UI thread)
	// inUse reports whether the view shows the file with this hash: those
	// are not evicted, or the view would decode them again and again.
	inUse func(hash string) bool
}

func newThumbCache(u *UI) *thumbCache { return &thumbCache{u: u, items: map[string]*thumb{}} }

// isImage reports whether f is an image the GUI shows inline.
func isImage(f storage.FileRef) bool {
	switch strings.ToLower(f.Type) {
	case "image/png", "image/jpeg", "image/gif":
		return true
	}
	return false
}

// get returns f's thumbnail, starting to load it the first time; nil
// while it loads.
func (c *thumbCache) get(f storage.FileRef) *thumb {
	if t, ok := c.items[f.Hash]; ok {
		return t
	}
	t := &thumb{}
	c.items[f.Hash] = t
	c.order = append(c.order, f.Hash)
	c.evict()
	fetch := f.Size <= c.u.cfg.FetchImageBytes
	c.u.cfg.Go(func() {
		img, err := c.load(f, fetch)
		c.u.cfg.Do(func() {
			if err != nil {
				if !errors.Is(err, ErrNotFetched) {
					c.u.log.Info("no thumbnail", "file", f.Name, "err", err)
				}
				t.err = err
				return
			}
			t.img = img
			b := img.Bounds()
			t.w, t.h = float32(b.Dx()), float32(b.Dy())
			if c.onReady != nil {
				c.onReady()
			}
		})
	})
	return t
}

// evict drops the oldest thumbnails not in use beyond maxThumbs.
func (c *thumbCache) evict() {
	for i := 0; len(c.order) > maxThumbs && i < len(c.order); {
		h := c.order[i]
		if c.inUse != nil && c.inUse(h) {
			i++
			continue
		}
		delete(c.items, h)
		c.order = slices.Delete(c.order, i, i+1)
	}
}

// load reads and scales f; decodes run one at a time to bound memory.
func (c *thumbCache) load(f storage.FileRef, fetch bool) (image.Image, error) {
	ctx, cancel := context.WithTimeout(c.u.ctx, thumbCallTimout)
	defer cancel()
	r, err := c.u.cfg.Backend.OpenFile(ctx, f, fetch)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxThumbPixels {
		return nil, fmt.Errorf("image of %dx%d pixels: too large for a thumbnail", cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	c.decode.Lock()
	defer c.decode.Unlock()
	src, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	return scaleToFit(src, thumbW, thumbH), nil
}

// scaleToFit scales src down (never up) to fit a w×h box, keeping its
// proportions.
func scaleToFit(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	f := min(float64(w)/float64(b.Dx()), float64(h)/float64(b.Dy()), 1)
	dw, dh := max(int(float64(b.Dx())*f+0.5), 1), max(int(float64(b.Dy())*f+0.5), 1)
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}
