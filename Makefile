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

.PHONY: all build headless image run test test-short bench gui-bench screenshots package package-deps package-linux package-windows test-windows test-deb darwin fuzz vet clean deps chaos chaos-long

all: build

# Debian packages: the cgo GUI build's headers, chrony, Xvfb/xdotool.
deps:
	@./tools/install-deps.sh
	@echo "== go mod download"
	$(GO) mod download

build:
	@echo "== building $(BIN)/concord (the window's cgo build: ~3-4 min the first time on 2 cores, seconds after)"
	$(GO) build -tags '$(GUITAGS)' -o $(BIN)/concord .
	@echo "== built $(BIN)/concord"

# A static binary with no cgo, for always-on members and FROM scratch images.
headless:
	CGO_ENABLED=0 $(GO) build -tags headless -o $(BIN)/concord-headless .

# The static headless binary for macOS (amd64 and arm64), as CI builds it so
# nothing Linux-only creeps into the code a Mac runs. The Mac app itself is
# built on a Mac (README: On macOS).
darwin:
	@echo "== the headless binary for darwin/amd64 and darwin/arm64"
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 $(GO) build -tags headless -o $(BIN)/darwin-amd64/concord .
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags headless -o $(BIN)/darwin-arm64/concord .

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
	$(BIN)/concord run --data $(DATA) --name $(NAME)

vet: deps
	@echo "== go vet ./... (compiles every package: ~4 min from empty caches)"
	$(GO) vet ./...
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .); if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi

# Every level of the test plan: unit, in-process cluster, processes, fuzz seeds.
test: vet
	@echo "== go test -race ./... (~2.5 min warm, up to ~17 min from empty caches on 2 cores; each package prints a line when it is done)"
	$(GO) test -race -count=1 -timeout 20m ./...
	# The checker must catch a planted bug: a build whose FSM keeps duplicates.
	$(GO) test -count=1 -tags concord_nodedup -run TestPlanted ./node
	# A leader built to forge ops in other members' names: every member must refuse them.
	$(GO) test -count=1 -tags concord_forge -run TestForgingLeader ./node

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

# Desktop packages in $(DIST)/: Concord.tar.xz and concord_VERSION_amd64.deb
# (Linux), Concord.exe and Concord.msi (Windows, cross-compiled with
# Debian's mingw-w64, the installer made with wixl). The fyne tool is
# installed with go install, outside our module: it needs a newer Fyne than
# go.mod's. fyne package bumps FyneApp.toml's Build on every run; the file
# is put back so packaging leaves the tree clean.
FYNE_TOOL ?= fyne.io/tools/cmd/fyne@v1.7.4
# The release every package carries: version.Release (FyneApp.toml's Version
# must match, release_test.go checks). Built on a release tag vX.Y.Z, the
# tag must name the same release.
VERSION   := $(shell sed -n 's/^const Release = "\(.*\)"/\1/p' version/version.go)
TAG       := $(shell git describe --exact-match --tags 2>/dev/null)
FYNE      ?= $(shell $(GO) env GOPATH)/bin/fyne
DIST      ?= dist
package: package-linux package-windows
	@ls -l $(DIST)

# The .deb installed in a clean Debian 12 container, started on Xvfb, removed
# (needs Docker, and root for debootstrap the first time: ~5 min then).
DEB_SCREENSHOT ?= $(BIN)/deb-window.png
test-deb: package-linux
	@mkdir -p $(dir $(DEB_SCREENSHOT))
	./tools/package/test-deb.sh $(VERSION) $(DIST) $(DEB_SCREENSHOT)

package-deps:
	@test -z "$(TAG)" || test "$(TAG)" = "v$(VERSION)" || { echo "release tag $(TAG) but version.Release $(VERSION)"; exit 1; }
	@./tools/install-deps.sh package
	@test -x $(FYNE) || (echo "== installing the fyne tool ($(FYNE_TOOL))"; cd / && $(GO) install $(FYNE_TOOL))
	@mkdir -p $(DIST)

package-linux: package-deps
	@echo "== dist/Concord.tar.xz: fyne package -os linux (a cold cgo build takes ~4 min on 2 cores)"
	cp FyneApp.toml $(DIST)/.FyneApp.toml.orig
	$(FYNE) package -os linux -release -tags '$(GUITAGS)' && mv Concord.tar.xz $(DIST)/; \
	  st=$$?; mv $(DIST)/.FyneApp.toml.orig FyneApp.toml; exit $$st
	@echo "== dist/concord_$(VERSION)_amd64.deb: dpkg-deb"
	./tools/package/deb.sh $(VERSION) $(DIST)

package-windows: package-deps
	@echo "== dist/Concord.exe: fyne package -os windows with mingw-w64 (a cold cross-cgo build takes ~12 min on 2 cores)"
	cp FyneApp.toml $(DIST)/.FyneApp.toml.orig
	CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 $(FYNE) package -os windows -release -tags '$(GUITAGS)' && mv Concord.exe $(DIST)/; \
	  st=$$?; mv $(DIST)/.FyneApp.toml.orig FyneApp.toml; exit $$st
	@echo "== dist/Concord.msi $(VERSION): wixl (Start-menu entry, uninstaller, icon)"
	convert assets/icon.png -define icon:auto-resize=256,64,48,32,16 $(DIST)/concord.ico
	wixl -a x64 -D Version=$(VERSION) -D Exe=$(DIST)/Concord.exe -D Icon=$(DIST)/concord.ico -o $(DIST)/Concord.msi tools/package/concord.wxs
	rm $(DIST)/concord.ico

# The Windows build under Wine (Debian's wine 8.0, Xvfb, software GL):
# dist/Concord.exe joins a Linux member's team in its window, chats both
# ways, and its CLI talks to it over the control pipe; screenshots and the
# Windows member's log go to $(WINE_ARTIFACTS). ~1.5 min once Concord.exe
# is built (not in CI's make test: the cross build alone takes ~12 min cold).
WINE_ARTIFACTS ?= $(BIN)/wine
test-windows: package-windows
	@./tools/install-deps.sh wine
	@echo "== the Windows build under Wine (~1.5 min)"
	WINE_ARTIFACTS=$(abspath $(WINE_ARTIFACTS)) $(GO) test -tags wine -run '^TestWindowsBuildUnderWine$$' -count=1 -v -timeout 10m .

# Run each fuzzer for a short while (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeCommand -fuzztime $(FUZZTIME) ./consensus
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime $(FUZZTIME) ./p2p
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime $(FUZZTIME) ./storage
	$(GO) test -run '^$$' -fuzz FuzzParseInvite -fuzztime $(FUZZTIME) ./node

clean:
	rm -rf $(BIN) $(DIST)
