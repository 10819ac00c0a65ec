# Captura build. Everything is pure Go (CGO_ENABLED=0); see README.md.
SHELL      := /bin/bash
GO         ?= go
export CGO_ENABLED := 0
BINARIES   := captura-agent capturactl captura-fw
CMDPKG_captura-agent := ./agent/cmd/captura-agent
CMDPKG_capturactl    := ./agent/cmd/capturactl
CMDPKG_captura-fw    := ./firmware-tools/cmd/captura-fw
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X github.com/captura-claim/captura/agent/version.Version=$(VERSION)
FUZZTIME   ?= 30s
# Minimising each new interesting input for the default 60 s would spend the whole
# budget of targets whose seeds are large records; a short minimisation keeps fuzzing.
FUZZMINIMIZE ?= 5s
BENCHTIME  ?= 1s
BENCHPKGS  ?= ./...

.PHONY: all build test lint cross bench bench-smoke fuzz demo chaos clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/captura-agent $(CMDPKG_captura-agent)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/capturactl $(CMDPKG_capturactl)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/captura-fw $(CMDPKG_captura-fw)

# The test command of the README. .ci/deps installs the Debian packages the tests need
# when they are missing (gcc for the race detector, mosquitto, nats-server); race
# detection needs cgo, so it is switched on here only.
test:
	@.ci/deps
	CGO_ENABLED=1 $(GO) test -race -timeout 20m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

cross:
	@set -e; for target in arm64: arm:7; do \
	  arch=$${target%%:*}; arm=$${target##*:}; \
	  mkdir -p dist/linux-$$arch; \
	  for b in captura-agent:$(CMDPKG_captura-agent) capturactl:$(CMDPKG_capturactl) captura-fw:$(CMDPKG_captura-fw); do \
	    name=$${b%%:*}; pkg=$${b#*:}; \
	    GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/linux-$$arch/$$name $$pkg; \
	  done; \
	  GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) test -exec=true ./... >/dev/null; \
	  echo "linux/$$arch$${arm:+ GOARM=$$arm}: binaries in dist/linux-$$arch, tests compile"; \
	done
	@file dist/linux-*/* 2>/dev/null || true

# Benchmarks, printed as a table (benchmark, ns/op, MB/s, B/op, allocs/op, extra metrics).
bench:
	@$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(BENCHPKGS) | .ci/benchtable

# Every benchmark once, as a smoke test (CI).
bench-smoke:
	@echo "go test -run='^$$' -bench=. -benchtime=1x ./..."
	@out=$$(mktemp); if $(GO) test -run='^$$' -bench=. -benchtime=1x ./... >$$out 2>&1; then rm -f $$out; \
	  else grep -v '^Benchmark\|^goos\|^goarch\|^pkg\|^cpu\|^ok\|^PASS' $$out; rm -f $$out; exit 1; fi

# Each fuzz target for FUZZTIME (default 30s): make fuzz FUZZTIME=1m
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin dist

# The README's first command: a whole counter on this machine (simulated reader, camera
# and panel, embedded broker, reference gateway, simulated tablet); see README.md.
demo:
	$(GO) run ./agent/cmd/capturactl demo $(DEMO_FLAGS)

# Crash test: kill -9 the agent 200 times at random moments during sessions and
# publishing; the gateway must receive every accepted session exactly once, in an
# intact chain. CHAOS_SEED=N replays a run.
CHAOS_KILLS ?= 200
CHAOS_SEED  ?= 0
chaos:
	$(GO) test -count=1 -run '^TestCrashKill9$$' -timeout 30m -v ./agent/daemon -chaos.kills=$(CHAOS_KILLS) -chaos.seed=$(CHAOS_SEED) | grep -E 'crash test|^(--- |ok|FAIL|PASS)'

# Debian packages, built with nfpm (a pinned library in the systemd/ module; see
# systemd/README.md): dist/captura_<version>-1_<arch>.deb for each of DEB_ARCHES, holding
# static binaries from dist/deb/<arch>/ and manual pages made from bin/'s -h output.
DEB_ARCHES ?= amd64 arm64 armhf
# The Maintainer field; empty means the last commit's author.
DEB_MAINTAINER ?=
comma      := ,
empty      :=
space      := $(empty) $(empty)

.PHONY: deb deb-bins

deb-bins:
	@set -e; for a in $(DEB_ARCHES); do \
	  case $$a in \
	    amd64) env="GOARCH=amd64 GOARM=";; \
	    arm64) env="GOARCH=arm64 GOARM=";; \
	    armhf) env="GOARCH=arm GOARM=7";; \
	    *) echo "deb: unknown architecture $$a (amd64, arm64, armhf)"; exit 2;; \
	  esac; \
	  mkdir -p dist/deb/$$a; \
	  for b in captura-agent:$(CMDPKG_captura-agent) capturactl:$(CMDPKG_capturactl) captura-fw:$(CMDPKG_captura-fw); do \
	    env GOOS=linux $$env $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/deb/$$a/$${b%%:*} $${b#*:}; \
	  done; \
	  echo "deb: $$a binaries in dist/deb/$$a"; \
	done

deb: build deb-bins
	cd systemd && $(GO) run ./cmd/captura-deb -root .. -version '$(VERSION)' \
	  -arch '$(subst $(space),$(comma),$(strip $(DEB_ARCHES)))' -bin '../dist/deb/{arch}' -help-bin ../bin -out ../dist \
	  $(if $(DEB_MAINTAINER),-maintainer '$(DEB_MAINTAINER)')
