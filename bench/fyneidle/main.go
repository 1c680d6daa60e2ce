// Command fyneidle is the baseline of `make gui-bench`: an almost empty
// Fyne window (a label and a focused entry, at Concord's window size), so
// the GUI's idle CPU and RSS can be read against what Fyne itself costs on
// the same machine in the same run.
package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("org.concord.fyneidle")
	w := a.NewWindow("Fyne idle baseline")
	entry := widget.NewMultiLineEntry()
	w.SetContent(container.NewBorder(nil, entry, nil, nil, widget.NewLabel("baseline")))
	w.Resize(fyne.NewSize(1000, 700))
	w.Canvas().Focus(entry)
	w.ShowAndRun()
}
