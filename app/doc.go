// Package app is Concord's desktop GUI, built with Fyne.
//
// It depends only on storage types, internal/human and Fyne (never on raft, libp2p or
// fyne.io/fyne/v2/app) and talks to the member through the small Backend
// interface it declares, so `CGO_ENABLED=0 go test ./app/` runs its tests
// against an in-memory fake with Fyne's test driver. The composition root
// in package main creates the Fyne application and window, adapts the
// node.Node to Backend (package backend), and calls New, then ShowWelcome (first run) or ShowChat.
//
// Threading: every widget is touched on the UI thread only. Backend calls
// run in background goroutines (Config.Go) and hand their results back
// through Config.Do, which is fyne.Do unless a test replaces it.
package app
