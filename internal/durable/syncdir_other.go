//go:build !windows

package durable

const dirSyncNeeded = true
