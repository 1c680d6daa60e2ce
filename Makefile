# Concord — see README.md. Every target works on a fresh Debian machine:
# run and test first install what is missing (tools/install-deps.sh).
GO       ?= go
BIN      ?= bin
DATA     ?= $(HOME)/.concord
NAME     ?= $(shell whoami)
LISTEN   ?= /ip4/0.0.0.0/tcp/0
export LANG ?= C.UTF-8

.PHONY: all build headless run test test-short bench fuzz vet clean deps

all: build

# Debian packages: the cgo GUI build's headers, chrony, Xvfb/xdotool.
deps:
	@./tools/install-deps.sh
	$(GO) mod download

build:
	$(GO) build -o $(BIN)/concord .

# A static binary with no cgo, for always-on members and FROM scratch images.
headless:
	CGO_ENABLED=0 $(GO) build -tags headless -o $(BIN)/concord-headless .

# Runs a member on $(DATA). With a display it opens the window, which handles
# first run (create or join a team); without one, first run creates a team
# named after you and the member runs headless.
run: deps build
	@test -n "$$DISPLAY$$WAYLAND_DISPLAY" || test -f $(DATA)/config.json || $(BIN)/concord init --data $(DATA) --name $(NAME) --listen $(LISTEN)
	$(BIN)/concord run --data $(DATA)

vet: deps
	$(GO) vet ./...

# Every level of the test plan: unit, in-process cluster, processes, fuzz seeds.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	# The checker must catch a planted bug: a build whose FSM keeps duplicates.
	$(GO) test -count=1 -tags concord_nodedup -run TestPlanted .

test-short:
	$(GO) test -short -count=1 ./...

# Benchmarks, printed as ratios against raw hashicorp/raft measured in the same run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s -timeout 30m ./bench/... .

# Run each fuzzer for a short while (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeCommand -fuzztime $(FUZZTIME) ./consensus
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime $(FUZZTIME) ./p2p
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime $(FUZZTIME) ./storage
	$(GO) test -run '^$$' -fuzz FuzzParseInvite -fuzztime $(FUZZTIME) .

clean:
	rm -rf $(BIN)
