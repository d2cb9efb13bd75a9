#!/usr/bin/env bash
# Starts a one-validator devnet (a real oasis-node, in-process), points
# oasis-telegraf at its socket and prints what it reads every few seconds.
# Stops and cleans up by itself after DEMO_SECONDS (default 30), or on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-30}
dir=$(mktemp -d /tmp/omc-demo.XXXXXX)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bin/oasis-devnet init -dir "$dir/net" -validators 1 -block-interval 1s -epoch-blocks 30 > "$dir/manifest.json"
socket=$(sed -n 's/.*"socket": "\(.*\)".*/\1/p' "$dir/manifest.json")
bin/oasis-devnet node -dir "$dir/net" -index 0 > "$dir/node.out" 2>&1 &
node_pid=$!
echo "devnet: one validator, data in $dir/net, socket $socket"

printf '[[inputs.oasis_node]]\n  address = "unix:%s"\n' "$socket" > "$dir/oasis_node.conf"
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.2; done

end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  echo "--- oasis-telegraf -once ($(date -u +%H:%M:%S))"
  bin/oasis-telegraf -config "$dir/oasis_node.conf" -once | tr ',' '\n' | grep -E '^(up|latest_height|latest_block_age_seconds|synced|is_validator|epoch|registration_epochs_left|voting_power)=' | tr '\n' ' ' || true
  echo
  sleep 5
done
echo "demo done; stopping the validator and removing $dir"
