package durable

const dirSyncNeeded = false
