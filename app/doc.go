// Package app will hold Concord's desktop GUI (Fyne). It depends only on
// storage types and Fyne, and talks to the member through a Backend
// interface it declares; until the GUI lands, `concord run` is headless.
package app
