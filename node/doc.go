// Package node is a Concord member as a library: one person's app in one
// team, with its libp2p host, Raft replica, chat state, outbox, search
// index and background loops.
//
// Open starts the member in a data dir and Close stops it; Create makes a
// new team's first member and Join redeems an invite code, each in a data
// dir of its own. A process may open any number of members, of one team or
// of several. The methods of Node are the member's operations (Send,
// Retry, Outbox, History, Edit, Delete, React, Reply, DM, Attach, Fetch,
// Search, CreateChannel, Members, RemoveMember, SetRole, Invite, Time,
// Status); they take and return domain types and fail with errors that
// wrap the sentinels in errors.go (test them with errors.Is).
//
// Recover, CheckState, RebuildState and ResetFromTeam work on the data dir
// of a stopped member. docs/architecture.md shows where node sits among
// the other packages and follows a message through it.
package node
