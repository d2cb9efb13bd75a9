# Oasis Mission Control. The README's two commands are `make demo` and `make test`.
GO ?= go

.PHONY: build dashboards deps demo install release test test-unit vet

## build: the execd binary and the local devnet command, into bin/ (with the
## checkout's commit for -version: GOFLAGS may turn Go's own stamping off)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
build:
	$(GO) build -ldflags "-X github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo.Commit=$(COMMIT)" -o bin/oasis-telegraf ./cmd/oasis-telegraf
	cd devnet && $(GO) build -o ../bin/oasis-devnet ./cmd/oasis-devnet

## install: the native install, as root, next to the vendors' packages of
## Telegraf, InfluxDB 1.8, Kapacitor and Grafana (docs/install-native.md).
## Settings as make variables, e.g. make install SOCKET=unix:/run/oasis/internal.sock;
## the list is at the top of scripts/install-native.sh.
install:
	scripts/install-native.sh

## release: reproducible oasis-telegraf binaries for linux/amd64 and arm64
## and their SHA256SUMS in dist/VERSION/, from a clean checkout of the tag:
## make release VERSION=0.3.0 (CONTRIBUTING.md#releases)
release:
	scripts/release.sh $(VERSION)

## dashboards: write grafana/dashboards/*.json from internal/dashboards
dashboards:
	$(GO) run ./cmd/oasis-dashboards -out grafana/dashboards

## deps: Debian packages the devnet's in-process oasis-node needs (cgo: libseccomp)
deps:
	@if dpkg -s libseccomp-dev pkg-config >/dev/null 2>&1; then echo "deps: libseccomp-dev and pkg-config are installed"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev pkg-config; fi

## vet: go vet every module
vet:
	$(GO) vet ./...
	cd devnet && $(GO) vet ./...
	cd alerting && $(GO) vet ./...
	cd testbed && $(GO) vet ./...

## test: every check and test of every module (tidy, gofmt, vet; unit,
## integration against real oasis-node validators, Telegraf and InfluxDB,
## the alerts in Kapacitor 1.7.5's engine, end to end). A failing module
## does not stop the others; all failures are listed at the end.
test: deps
	scripts/test-all.sh

## test-unit: the fast tier (under a minute): unit and fake-node tests,
## no devnet, no InfluxDB, no other binaries built (go test -short)
test-unit:
	scripts/test-all.sh -short

## demo: 4 real local validators -> Telegraf -> InfluxDB, with a health summary read back
DEMO_SECONDS ?= 180
demo: deps build
	scripts/stack-bins.sh >/dev/null
	cd testbed && $(GO) run ./cmd/oasis-demo -seconds $(DEMO_SECONDS)
