//go:build headless

package main

import (
	"context"
	"errors"
	"log/slog"
)

// haveGUI says whether this build can open a window.
const haveGUI = false

// runGUI is unavailable in the headless build (no Fyne, no cgo).
func runGUI(ctx context.Context, dir, listen, name string, minimized bool, log *slog.Logger) error {
	return errors.New("this build has no GUI (built with -tags headless): use `concord run --headless`")
}
