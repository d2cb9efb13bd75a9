#!/usr/bin/env bash
# Runs every check of every module and reports all failures at the end: a
# failing module does not hide the others' results. `make test` (the
# README's command, and CI) runs this; `make test-unit` is the fast tier.
#   scripts/test-all.sh          everything: unit, integration, end to end
#   scripts/test-all.sh -short   the fast tier: unit and fake-node tests only
set -uo pipefail
cd "$(dirname "$0")/.."

short=""
if [ "${1:-}" = "-short" ]; then short="-short"; fi

# The four modules: the product (what `go install` fetches), the devnet (real
# oasis-node validators), the alerting engine (Kapacitor 1.7.5) and the test
# bed (fake-free integration and end-to-end tests, the demo).
modules=(. devnet alerting testbed)
failed=()
step() { # name command...
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    echo "--- ok   $name ($((SECONDS - start)) s)"
  else
    echo "--- FAIL $name ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}
in_module() { local dir=$1; shift; (cd "$dir" && "$@"); }
gofmt_clean() { local out; out=$(gofmt -l "$1"); [ -z "$out" ] || { echo "not gofmt'd:"; echo "$out"; return 1; }; }

if [ -z "$short" ]; then
  for m in "${modules[@]}"; do
    step "tidy $m" in_module "$m" go mod tidy -diff
  done
  step "gofmt" gofmt_clean .
  for m in "${modules[@]}"; do
    step "vet $m" in_module "$m" go vet ./...
  done
  # The alerting module's replays keep one core busy for minutes while the
  # product's own tests mostly wait on fake nodes: the two run side by
  # side (about 75 s less), the alerting output printed when it ends.
  alerting_log=$(mktemp)
  alerting_start=$SECONDS
  (cd alerting && go test -count=1 -timeout 30m ./...) >"$alerting_log" 2>&1 &
  alerting_pid=$!
  step "test ." in_module . go test -count=1 -timeout 30m ./...
  echo "=== test alerting (beside test .)"
  if wait "$alerting_pid"; then
    cat "$alerting_log"
    echo "--- ok   test alerting ($((SECONDS - alerting_start)) s)"
  else
    cat "$alerting_log"
    echo "--- FAIL test alerting ($((SECONDS - alerting_start)) s)"
    failed+=("test alerting")
  fi
  rm -f "$alerting_log"
  step "test devnet" in_module devnet go test -count=1 -timeout 30m ./...
  # One test bed package at a time (-p 1): each starts real validators,
  # InfluxDB and Telegraf, and on 2 cores two at once slow the chain past
  # what the timing checks allow (a devnet at 2.1 s per 1 s block, seen in
  # a clean-clone run).
  step "test testbed" in_module testbed go test -p 1 -count=1 -timeout 30m ./...
else
  # The fast tier builds no other binary and starts no devnet, InfluxDB or
  # Telegraf: the product's unit and fake-node tests, the devnet's manifest,
  # process and genesis tests, the alerting checks that need no replay, and
  # the test bed's own unit tests (its integration tests skip under -short).
  step "test -short ." in_module . go test -short -count=1 ./...
  step "test -short devnet" in_module devnet go test -short -count=1 ./manifest ./proc ./network
  step "test -short alerting" in_module alerting go test -short -count=1 ./...
  step "test -short testbed" in_module testbed go test -short -count=1 ./...
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all passed"
