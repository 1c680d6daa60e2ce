# Concord — see README.md. Every target works on a fresh Debian machine:
# run and test first install what is missing (tools/install-deps.sh).
GO       ?= go
BIN      ?= bin
DATA     ?= $(HOME)/.concord
NAME     ?= $(shell whoami)
LISTEN   ?= /ip4/0.0.0.0/tcp/0
export LANG ?= C.UTF-8
# Fyne's animations off: its blinking cursor redraws the window 60 times a
# second while it fades, most of the GUI's idle CPU (docs/benchmarks.md).
GUITAGS  ?= no_animations

.PHONY: all build headless image run test test-short bench gui-bench screenshots package fuzz vet clean deps chaos chaos-long

all: build

# Debian packages: the cgo GUI build's headers, chrony, Xvfb/xdotool.
deps:
	@./tools/install-deps.sh
	$(GO) mod download

build:
	$(GO) build -tags '$(GUITAGS)' -o $(BIN)/concord .

# A static binary with no cgo, for always-on members and FROM scratch images.
headless:
	CGO_ENABLED=0 $(GO) build -tags headless -o $(BIN)/concord-headless .

# A FROM scratch member image ($(IMAGE)) from the static headless binary,
# built with the concord_chaos tag (a test-only clock-skew endpoint on the
# control socket). The build context is a directory holding only the binary.
IMAGE    ?= concord:test
image:
	rm -rf $(BIN)/image && mkdir -p $(BIN)/image
	CGO_ENABLED=0 $(GO) build -tags headless,concord_chaos -o $(BIN)/image/concord .
	docker build -q -t $(IMAGE) -f test/chaos/Dockerfile $(BIN)/image

# The chaos suite (test/chaos, needs a Docker engine; skipped without one):
# members in containers on a private network under seeded kills, pauses,
# partitions (a bridge partition uses nsenter and the host's iptables: root),
# clock skew and attacks. `chaos` runs each scenario once with
# 3 members; `chaos-long` CHAOS_RUNS seeded runs per scenario for 3 and 5
# members, appending each run's figures to CHAOS_RESULTS (tabled by
# `go run ./test/chaos/summary FILE`). CHAOS_SEED replays a schedule;
# CHAOS_MINUTES stops starting runs after that long.
CHAOS_RUNS    ?= 20
CHAOS_MEMBERS ?= 3 5
CHAOS_RESULTS ?= $(BIN)/chaos-results.jsonl
chaos:
	CHAOS=1 CHAOS_RUNS=1 CHAOS_MEMBERS=3 $(GO) test -count=1 -timeout 30m -v -run 'TestChaos|TestAttack' ./test/chaos/

chaos-long:
	mkdir -p $(BIN)
	CHAOS=1 CHAOS_RUNS=$(CHAOS_RUNS) CHAOS_MEMBERS="$(CHAOS_MEMBERS)" CHAOS_RESULTS=$(abspath $(CHAOS_RESULTS)) \
		$(GO) test -count=1 -timeout 48h -v -run 'TestChaos$$' ./test/chaos/

# Runs a member on $(DATA). With a display it opens the window, which handles
# first run (create or join a team); without one, first run creates a team
# named after you and the member runs headless.
run: deps build
	@test -n "$$DISPLAY$$WAYLAND_DISPLAY" || test -f $(DATA)/config.json || $(BIN)/concord init --data $(DATA) --name $(NAME) --listen $(LISTEN)
	$(BIN)/concord run --data $(DATA)

vet: deps
	$(GO) vet ./...
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .); if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi

# Every level of the test plan: unit, in-process cluster, processes, fuzz seeds.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	# The checker must catch a planted bug: a build whose FSM keeps duplicates.
	$(GO) test -count=1 -tags concord_nodedup -run TestPlanted ./node

test-short:
	$(GO) test -short -count=1 ./...

# Benchmarks, printed as ratios against raw hashicorp/raft measured in the same run
# (in a process of its own), then what idle teams of 3, 5 and 10 member
# processes cost (CPU from /proc over 30 s).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s -timeout 30m ./bench/... ./node
	$(GO) test -run '^$$' -bench BenchmarkIdleCPU -benchtime 1x -timeout 30m .

# The GUI under Xvfb on a channel of GUI_BENCH_MESSAGES (default 100000)
# messages: start to interactive, RSS, idle CPU (docs/benchmarks.md).
# GUI_BENCH_SCREENSHOT=file.png keeps a screenshot of the last run.
gui-bench: deps build
	GUI_BENCH_BIN=$(abspath $(BIN))/concord GUI_BENCH_TAGS='$(GUITAGS)' $(GO) test -tags guibench -run '^TestGUIBench$$' -count=1 -v -timeout 30m . | grep -E '^(gui-bench|---|ok|FAIL)|seeded|Error|error'

# The README's screenshots (docs/screenshots/), taken of the real GUI under Xvfb.
screenshots: deps
	$(GO) test -tags guishots -run '^TestGUIScreenshots(ChatOps)?$$' -count=1 -v -timeout 10m .

# Desktop packages in $(DIST)/: Concord.tar.xz (Linux) and Concord.exe
# (Windows, cross-compiled with Debian's mingw-w64). The fyne tool is
# installed with go install, outside our module: it needs a newer Fyne than
# go.mod's. fyne package bumps FyneApp.toml's Build on every run; the file
# is put back so packaging leaves the tree clean.
FYNE_TOOL ?= fyne.io/tools/cmd/fyne@v1.7.4
FYNE      ?= $(shell $(GO) env GOPATH)/bin/fyne
DIST      ?= dist
package:
	./tools/install-deps.sh package
	test -x $(FYNE) || (cd / && $(GO) install $(FYNE_TOOL))
	mkdir -p $(DIST)
	cp FyneApp.toml $(DIST)/.FyneApp.toml.orig
	$(FYNE) package -os linux -release -tags '$(GUITAGS)' && mv Concord.tar.xz $(DIST)/; \
	  st=$$?; cp $(DIST)/.FyneApp.toml.orig FyneApp.toml; exit $$st
	CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 $(FYNE) package -os windows -release -tags '$(GUITAGS)' && mv Concord.exe $(DIST)/; \
	  st=$$?; cp $(DIST)/.FyneApp.toml.orig FyneApp.toml; exit $$st
	rm $(DIST)/.FyneApp.toml.orig
	ls -l $(DIST)

# Run each fuzzer for a short while (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeCommand -fuzztime $(FUZZTIME) ./consensus
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime $(FUZZTIME) ./p2p
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime $(FUZZTIME) ./storage
	$(GO) test -run '^$$' -fuzz FuzzParseInvite -fuzztime $(FUZZTIME) ./node

clean:
	rm -rf $(BIN) $(DIST)
