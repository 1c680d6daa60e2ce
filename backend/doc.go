// Package backend adapts a node.Node to app.Backend: the window's view of
// the member (first run, messages, events, files, settings). It keeps app/
// free of node/ and node/ free of Fyne. The headless build has no window
// and leaves this package out.
package backend
