// Package chaos is Concord's chaos suite on real hosts: every member runs in
// its own container (the FROM scratch image of `make image`) on a private
// Docker network, the team is formed and driven only through the CLI, and
// seeded nemeses kill, pause, partition (also into a bridge: iptables rules
// in the members' network namespaces, so the suite needs root, nsenter and
// /usr/sbin/iptables on the host), skew members, fill their disks (also
// just as a member's Raft log must start a new segment) and flip bits in
// their stores while senders on every member record each attempt. After
// healing and a full drain the shared checker (internal/check) reads every
// channel on every member.
//
// The tests run only with CHAOS=1 (so `go test ./...` starts no
// containers) and skip when no Docker engine answers and under -short. `make
// chaos` runs each scenario once with 3 members; `make chaos-long` runs
// CHAOS_RUNS seeded runs per scenario for CHAOS_MEMBERS="3 5". CHAOS_SEED
// reproduces a run's nemesis schedule; failing runs keep their histories,
// attempts and container logs under CHAOS_ARTIFACTS (printed).
package chaos
