//go:build guishots && !headless

package main

// The screenshots of search, a private conversation and an image
// thumbnail, for TestGUIScreenshots.

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// seedFeatures gives the team a private conversation between ann and bob
// and an image in #design (ann must be running: she answers).
func seedFeatures(t *testing.T, ann, bob *proc) {
	t.Helper()
	dm := func(from *proc, to, text string) {
		t.Helper()
		if _, err := cli(t, "dm", "--data", from.dir, "--to", to, text); err != nil {
			t.Fatal(err)
		}
	}
	dm(bob, "ann", "Can you look at my slides for Thursday before I share them?")
	dm(ann, "bob", "Sure, send them over. Anything you want me to focus on?")
	dm(bob, "ann", "Mostly the numbers on slide 4. Thanks!")
	path := filepath.Join(t.TempDir(), "settings-mockup.png")
	writeMockup(t, path)
	if _, err := cli(t, "attach", "--data", bob.dir, "--channel", "design", path); err != nil {
		t.Fatal(err)
	}
}

// writeMockup draws a small UI mock-up: a window with a sidebar and rows.
func writeMockup(t *testing.T, path string) {
	t.Helper()
	const w, h = 960, 600
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill := func(x0, y0, x1, y1 int, c color.RGBA) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	for y := range h { // background gradient
		fill(0, y, w, y+1, color.RGBA{uint8(40 + y/10), uint8(90 + y/8), 160, 255})
	}
	fill(60, 50, 900, 550, color.RGBA{245, 245, 248, 255})  // window
	fill(60, 50, 900, 100, color.RGBA{52, 101, 164, 255})   // title bar
	fill(60, 100, 260, 550, color.RGBA{225, 228, 235, 255}) // sidebar
	for i := range 6 {
		y := 130 + i*60
		fill(90, y, 230, y+24, color.RGBA{180, 186, 200, 255})              // sidebar item
		fill(300, y, 860-i*50, y+24, color.RGBA{200, 204, 214, 255})        // setting
		fill(800, y, 850, y+24, color.RGBA{uint8(80 + 25*i), 170, 90, 255}) // toggle
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// featureShots opens ann's window and takes search.png, dm.png and
// image.png; it returns the func that closes the window.
func featureShots(t *testing.T, bin, dir, out string, xenv []string) func() {
	t.Helper()
	closeWin := startWindow(t, bin, dir, xenv)
	settle()
	key := func(keys ...string) {
		t.Helper()
		if o, err := xdo(xenv, append([]string{"key"}, keys...)...); err != nil {
			t.Fatalf("xdotool: %v: %s", err, o)
		}
	}
	click := func(x, y string) {
		t.Helper()
		if o, err := xdo(xenv, "mousemove", x, y, "click", "1"); err != nil {
			t.Fatalf("xdotool: %v: %s", err, o)
		}
		settle()
	}
	// Search: Ctrl+F, a query, Enter; then choose the first result.
	key("ctrl+f")
	if o, err := xdo(xenv, "type", "retro"); err != nil {
		t.Fatalf("xdotool: %v: %s", err, o)
	}
	key("Return")
	settle()
	click("850", "130")
	snap(t, xenv, filepath.Join(out, "search.png"))
	key("Escape")
	// The private conversation with bob, listed under Direct messages.
	click("100", "455")
	snap(t, xenv, filepath.Join(out, "dm.png"))
	// #design, with bob's mock-up as a thumbnail.
	click("100", "89")
	snap(t, xenv, filepath.Join(out, "image.png"))
	return closeWin
}
