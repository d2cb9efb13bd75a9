# Oasis Mission Control. The README's two commands are `make demo` and `make test`.
GO ?= go

.PHONY: build dashboards deps demo test vet

## build: the execd binary and the local devnet command, into bin/
build:
	$(GO) build -o bin/oasis-telegraf ./cmd/oasis-telegraf
	cd devnet && $(GO) build -o ../bin/oasis-devnet ./cmd/oasis-devnet

## dashboards: write grafana/dashboards/*.json from internal/dashboards
dashboards:
	$(GO) run ./cmd/oasis-dashboards -out grafana/dashboards

## deps: Debian packages the devnet's in-process oasis-node needs (cgo: libseccomp)
deps:
	@if dpkg -s libseccomp-dev pkg-config >/dev/null 2>&1; then echo "deps: libseccomp-dev and pkg-config are installed"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev pkg-config; fi

vet:
	$(GO) vet ./...
	cd devnet && $(GO) vet ./...
	cd alerting && $(GO) vet ./...

## test: every test, unit and integration (real oasis-node validators,
## Telegraf, InfluxDB; the alerts in Kapacitor 1.7.5's engine)
test: deps vet build
	$(GO) test -count=1 -timeout 30m ./...
	cd devnet && $(GO) test -count=1 -timeout 30m ./...
	cd alerting && $(GO) test -count=1 -timeout 30m ./...

## demo: 4 real local validators -> Telegraf -> InfluxDB, with a health summary read back
DEMO_SECONDS ?= 90
demo: deps build
	scripts/stack-bins.sh >/dev/null
	$(GO) run ./cmd/oasis-demo -seconds $(DEMO_SECONDS)
