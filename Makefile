# plugincheck: conformance suite for Slurm auth and cred plugins.
#
#   make demo    check the real Debian Slurm plugins and print the report
#   make test    everything CI runs (installs what it needs first)

SHELL        := /bin/bash
GO           ?= go
CACHE        ?= $(CURDIR)/.cache/slurm
# Debian's Slurm daemons and client commands per release, for plugincheck e2e.
DAEMONS      ?= $(CURDIR)/.cache/slurm-daemons
BIN          := $(CURDIR)/bin/plugincheck
# The process plugincheck runs plugins in, as a binary of its own beside it:
# it starts in a fraction of the whole program's time (loader/workerbin.go).
WORKER       := $(CURDIR)/bin/plugincheck-worker
# The native harness plugincheck bench compares the worker with.
NATIVE       := $(CURDIR)/bin/bench-native
# The version certification bundles record; the commit when not tagged.
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS      := -X github.com/plugincheck/plugincheck/internal/bundle.version=$(VERSION)
export CGO_ENABLED := 0

# Packages the tests need from the machine's Debian archive: munged for the
# munge plugins, gcc for the fixture plugins, binutils for readelf, chromium
# to render the HTML report as a reader sees it, mount and util-linux
# (mount, unshare, nsenter) for the e2e cluster's namespace.
APT_PACKAGES := munge gcc make binutils chromium mount util-linux

.PHONY: all build deps prepare slurm daemons export-debs fixtures native test vet demo bench agreement clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/plugincheck
	$(GO) build -o $(WORKER) ./cmd/plugincheck-worker

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# From the Debian snapshot beside the clone when there is one (no network),
# else from the archive: see hack/fetch-slurm.sh.
slurm:
	hack/fetch-slurm.sh $(CACHE)

# The daemon roots (slurmctld, slurmd, slurm-client and their libraries):
# from the snapshot's <suite>-daemons/ folders when it has them, else from
# the archive.
daemons:
	hack/fetch-slurm.sh --daemons $(DAEMONS)

# Refresh a snapshot: fetch the current Debian builds from the archive into
# a fresh cache and write their .debs and SHA256SUMS to EXPORT (the plugin
# roots' <suite>/ folders and the daemon roots' <suite>-daemons/ folders).
export-debs:
	@test -n "$(EXPORT)" || { echo "usage: make export-debs EXPORT=DIR"; exit 2; }
	hack/fetch-slurm.sh --no-snapshot --export $(EXPORT) $(CURDIR)/.cache/slurm-archive
	hack/fetch-slurm.sh --daemons --no-snapshot --export $(EXPORT) $(CURDIR)/.cache/slurm-daemons-archive

fixtures: deps
	$(MAKE) -C fixtures

native: deps $(NATIVE)

$(NATIVE): hack/bench-native.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -Wextra -o $@ $< -pthread -ldl

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Everything the tests need, made at the same time once the packages are in:
# the Slurm roots wait on the archive and dpkg, the fixtures and the Go build
# on the CPU. `make -j` does it anyway; `make test` alone should not take
# a minute longer. Two jobs over the CPUs: the fetches mostly wait.
PREPARE_JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 2 )))
prepare: deps
	@$(MAKE) --no-print-directory -j$(PREPARE_JOBS) slurm daemons fixtures native build vet

test: prepare
	PLUGINCHECK_SLURM_CACHE=$(CACHE) PLUGINCHECK_FIXTURES=$(CURDIR)/fixtures/build \
	PLUGINCHECK_DAEMONS=$(DAEMONS) PLUGINCHECK_REQUIRE_REAL=1 PLUGINCHECK_WORKER_BINARY=$(WORKER) \
	$(GO) test -count=1 -timeout 45m ./...

# The unit suite and e2e on every fixture and real plugin of every release
# the daemons run: the agreement table docs/agreement.md.
agreement: deps slurm daemons fixtures build
	PLUGINCHECK_SLURM_CACHE=$(CACHE) PLUGINCHECK_FIXTURES=$(CURDIR)/fixtures/build \
	PLUGINCHECK_DAEMONS=$(DAEMONS) PLUGINCHECK_REQUIRE_REAL=1 PLUGINCHECK_AGREEMENT=$(CURDIR)/docs/agreement.md \
	$(GO) test -count=1 -timeout 60m -run 'TestAgreementMatrix' -v ./cmd/plugincheck/

demo: deps slurm build
	@hack/demo.sh $(BIN) $(CACHE)

bench: deps slurm build
	PLUGINCHECK_SLURM_CACHE=$(CACHE) $(GO) test -run '^$$' -bench . -benchtime 2000x ./loader/

clean:
	rm -rf bin
	$(MAKE) -C fixtures clean
