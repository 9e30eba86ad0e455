#!/usr/bin/env bash
# Builds (or finds) the helm CLI the chart tests run, and prints its path as its last line.
#
# Order of precedence, like testbed/build-controlplane.sh:
#   1. TEST_ASSET_HELM: that binary, used as it is; nothing is built.
#   2. The project's cache outside the work tree, <cache>/helm/<HELM_VERSION>/helm; built from the pinned
#      Go module in testbed/helm (helm.sh/helm/v4/cmd/helm) when missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

if [ -n "${TEST_ASSET_HELM:-}" ]; then
  if [ ! -f "$TEST_ASSET_HELM" ] || [ ! -x "$TEST_ASSET_HELM" ]; then
    echo "TEST_ASSET_HELM=$TEST_ASSET_HELM is not an executable file" >&2
    exit 1
  fi
  echo "$TEST_ASSET_HELM"
  exit 0
fi

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/helm/$HELM_VERSION"

if [ -f "$dir/.complete" ] && [ -x "$dir/helm" ]; then
  echo "$dir/helm"
  exit 0
fi

echo "Building helm $HELM_VERSION into $dir" >&2
echo "A cold build takes a few minutes on 2 cores; later runs reuse the cache." >&2
start=$(date +%s)
work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# The stamps helm's own Makefile sets, so that `helm version` names the release instead of "v4.3".
version_pkg=helm.sh/helm/v4/internal/version
stamp="-X $version_pkg.version=$HELM_VERSION -X $version_pkg.gitTreeState=clean"

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly
export GOGC=${GOGC:-200}
(cd "$here/helm" && go build -trimpath -pgo=off -buildvcs=false -ldflags "-s -w $stamp" \
  -o "$work/helm" helm.sh/helm/v4/cmd/helm)

# A binary that cannot tell its version is not one we trust to cache.
"$work/helm" version --short >&2

rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
echo "Built in $(( $(date +%s) - start )) s: $(du -sh "$dir" | cut -f1) in $dir" >&2
echo "$dir/helm"
