#!/usr/bin/env bash
# Finds (or fetches) ECK's CRDs for the tests, and prints as its last line the folder holding all-crds.yaml.
#
# Order of precedence:
#   1. ECK_CRDS_DIR: a folder with all-crds.yaml (ECK's config/crds/v1/all-crds.yaml), used as it is.
#   2. The project's cache, keyed by version, outside the work tree: ~/.cache/es-inference-operator/eck/<version>/,
#      filled from the Go module github.com/elastic/cloud-on-k8s/v3 that testbed/eck/go.sum pins (the Go module
#      proxy serves it; nothing of it is built). ECK's files are never copied into the work tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
module=github.com/elastic/cloud-on-k8s/v3

if [ -n "${ECK_CRDS_DIR:-}" ]; then
  if [ ! -f "$ECK_CRDS_DIR/all-crds.yaml" ]; then
    echo "ECK_CRDS_DIR=$ECK_CRDS_DIR has no all-crds.yaml" >&2
    exit 1
  fi
  echo "$ECK_CRDS_DIR"
  exit 0
fi

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/eck/$ECK_VERSION"
if [ -f "$dir/.complete" ] && [ -f "$dir/all-crds.yaml" ]; then
  echo "$dir"
  exit 0
fi

export GOWORK=off GOFLAGS=-mod=readonly
pinned=$(cd "$here/eck" && go list -m -f '{{.Version}}' "$module")
if [ "$pinned" != "$ECK_VERSION" ]; then
  echo "testbed/eck/go.mod pins $module $pinned but versions.env says ECK_VERSION=$ECK_VERSION" >&2
  exit 1
fi
echo "Fetching $module@$ECK_VERSION (its CRDs) from the Go module proxy into $dir" >&2
# Checked against testbed/eck/go.sum: a zip that does not match the pinned hash is refused.
(cd "$here/eck" && go mod download "$module")
source_dir=$(cd "$here/eck" && go list -m -f '{{.Dir}}' "$module")

work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
# all-crds.yaml is what ECK installs: every kind's CRD (resources/) with ECK's patches (patches/) applied.
cp "$source_dir/config/crds/v1/all-crds.yaml" "$work/"
chmod -R u+w "$work"
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
echo "ECK $ECK_VERSION CRDs: $(du -sh "$dir" | cut -f1) in $dir" >&2
echo "$dir"
