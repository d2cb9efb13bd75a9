#!/usr/bin/env bash
# Builds the native stack's binaries from pinned Go modules into .cache/bin
# (once; a binary already there at the pinned version is kept) and prints the
# directory. No Docker engine needed: this is the stack tests and the demo run.
#   influxd   github.com/influxdata/influxdb v1.8.10 (pure Go; v1.12 needs Rust flux)
#   telegraf  github.com/influxdata/telegraf v1.37.2, only the plugins telegraf.conf uses
#   oasis-telegraf, oasis-devnet and oasis-kapacitord (the alerting engine
#   served live) from this repository (rebuilt: Go's cache makes it quick)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.cache/bin"
mkdir -p "$bin"

INFLUXDB_VERSION=v1.8.10
TELEGRAF_VERSION=v1.37.2
# Telegraf's custom build: exactly the plugins telegraf.conf configures.
TELEGRAF_TAGS=custom,inputs.execd,processors.execd,inputs.prometheus,inputs.http_listener_v2,parsers.json_v2,inputs.internal,inputs.cpu,inputs.mem,inputs.disk,inputs.diskio,inputs.net,inputs.system,inputs.processes,inputs.procstat,outputs.influxdb,outputs.health

build_pinned() { # name module version [tags]
  local name=$1 module=$2 version=$3 tags=${4:-}
  local stamp="$bin/.$name.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version $tags" ]; then
    return
  fi
  echo "building $name $version" >&2
  GOBIN="$bin" go install ${tags:+-tags "$tags"} "$module@$version"
  echo "$version $tags" > "$stamp"
}

build_pinned influxd github.com/influxdata/influxdb/cmd/influxd "$INFLUXDB_VERSION"
build_pinned telegraf github.com/influxdata/telegraf/cmd/telegraf "$TELEGRAF_VERSION" "$TELEGRAF_TAGS"
go build -o "$bin/oasis-telegraf" ./cmd/oasis-telegraf
go build -o "$bin/oasis-bot" ./cmd/oasis-bot
(cd devnet && go build -o "$bin/oasis-devnet" ./cmd/oasis-devnet)
(cd alerting && go build -o "$bin/oasis-kapacitord" ./cmd/oasis-kapacitord)
echo "$bin"
