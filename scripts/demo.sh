#!/usr/bin/env bash
# Starts a four-validator devnet (real oasis-node validators, one process
# each), points oasis-telegraf at validator 0's socket and prints what it
# reads every few seconds.
# Stops and cleans up by itself after DEMO_SECONDS (default 30), or on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-30}
dir=$(mktemp -d /tmp/omc-demo.XXXXXX)
cleanup() {
  bin/oasis-devnet down -dir "$dir/net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bin/oasis-devnet up -dir "$dir/net" -validators 4 -block-interval 1s -epoch-blocks 30 > "$dir/manifest.json"
socket=$(sed -n 's/.*"socket": "\(.*validator-0.*\)".*/\1/p' "$dir/manifest.json")
echo "devnet: 4 validators, data in $dir/net, validator 0's socket $socket"

printf '[[inputs.oasis_node]]\n  address = "unix:%s"\n' "$socket" > "$dir/oasis_node.conf"
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.2; done

end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  echo "--- oasis-telegraf -once ($(date -u +%H:%M:%S))"
  bin/oasis-telegraf -config "$dir/oasis_node.conf" -once | sed 's/ [0-9]*$//' | tr ',' '\n' | grep -E '^(up|latest_height|latest_block_age_seconds|synced|is_validator|epoch|registration_epochs_left|voting_power)=' | tr '\n' ' ' || true
  echo
  sleep 5
done
echo "demo done; stopping the validators and removing $dir"
