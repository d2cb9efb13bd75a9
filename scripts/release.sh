#!/usr/bin/env bash
# A release build of oasis-telegraf and oasis-bot: static binaries for linux/amd64 and
# linux/arm64 and their SHA256SUMS, in dist/VERSION/. Reproducible: the same
# commit and Go version give the same bytes on any machine (no cgo,
# -trimpath, no build ID, the version and commit set explicitly rather than
# read from the checkout's state).
#
#   scripts/release.sh 0.3.0        (make release VERSION=0.3.0)
#
# Run it on a clean checkout of the commit tagged v0.3.0.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "usage: $0 X.Y.Z (a semantic version, e.g. 0.3.0)" >&2
  exit 2
fi
commit="$(git rev-parse HEAD)"
if [ -n "$(git status --porcelain)" ]; then
  echo "the checkout has changes: a release is built from a clean checkout of its tag" >&2
  exit 1
fi

out="dist/$version"
rm -rf "$out"
mkdir -p "$out"
pkg=github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo
for bin in oasis-telegraf oasis-bot; do
  for arch in amd64 arm64; do
    CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X $pkg.Version=$version -X $pkg.Commit=$commit" \
      -o "$out/$bin-$version-linux-$arch" ./cmd/$bin
  done
done
(cd "$out" && sha256sum oasis-telegraf-* oasis-bot-* > SHA256SUMS)
cat "$out/SHA256SUMS"
echo "built from $commit with $(go version)" >&2
