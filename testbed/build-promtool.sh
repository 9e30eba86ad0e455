#!/usr/bin/env bash
# Builds (or finds) promtool, Prometheus's own checker, and prints its path as its last line. The monitoring
# tests run it: `check rules` and `test rules` on monitoring/alerts.yaml, `check rules` on the dashboard's
# queries, `check metrics` on a scrape of the running operator.
#
# Order of precedence, like testbed/build-helm.sh:
#   1. TEST_ASSET_PROMTOOL: that binary, used as it is; nothing is built.
#   2. The project's cache outside the work tree, <cache>/promtool/<PROMETHEUS_VERSION>_<go version>_<tags>/;
#      built from the pinned Go module in testbed/promtool (github.com/prometheus/prometheus/cmd/promtool) when
#      missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
src="$here/promtool"
package=github.com/prometheus/prometheus/cmd/promtool

if [ -n "${TEST_ASSET_PROMTOOL:-}" ]; then
  if [ ! -f "$TEST_ASSET_PROMTOOL" ] || [ ! -x "$TEST_ASSET_PROMTOOL" ]; then
    echo "TEST_ASSET_PROMTOOL=$TEST_ASSET_PROMTOOL is not an executable file" >&2
    exit 1
  fi
  echo "$TEST_ASSET_PROMTOOL"
  exit 0
fi

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly
# remove_all_sd leaves out the service discoveries (AWS, Azure, GCE, Consul, ...: 247 of 1,363 packages; a 52 MB
# binary instead of 84 MB) that only Prometheus's scrape config uses; promtool's rule, metric and unit-test
# commands do not need them (tests/monitoring runs each).
# netgo as in Prometheus's own release builds (.promu.yml).
tags=remove_all_sd,netgo
go_version=$(cd "$src" && go env GOVERSION)
cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/promtool/${PROMETHEUS_VERSION}_${go_version}_${tags//,/-}"

if [ -f "$dir/.complete" ] && [ -x "$dir/promtool" ]; then
  echo "$dir/promtool"
  exit 0
fi

pinned=$(cd "$src" && go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
if [ "$pinned" != "$PROMETHEUS_VERSION" ]; then
  echo "testbed/promtool/go.mod pins github.com/prometheus/prometheus $pinned" \
    "but versions.env says PROMETHEUS_VERSION=$PROMETHEUS_VERSION" >&2
  exit 1
fi

# shellcheck source=progress.sh
. "$here/progress.sh"

# Module v0.3XX.Y is Prometheus 3.XX.Y: the version promtool reports.
release=${PROMETHEUS_VERSION#v0.}
release="${release:0:1}.$((10#${release:1:2}))${release:3}"

echo "Building promtool $release (module $PROMETHEUS_VERSION, $go_version, tags $tags) into $dir" >&2
echo "A cold build takes about 3.5 CPU-minutes (1,116 packages), 4-5 minutes on 2 cores; later runs reuse the cache." >&2
work="$dir.partial.$$"
log="$work.log"
rm -rf "$work"
mkdir -p "$work"
trap 'progress_stop; rm -rf "$work" "$log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
progress_begin "$log"

export GOGC=${GOGC:-200}
common=(-trimpath -pgo=off -buildvcs=false -tags "$tags")
version_pkg=github.com/prometheus/common/version
stamp="-X $version_pkg.Version=$release -X $version_pkg.Branch=module-$PROMETHEUS_VERSION"
stamp+=" -X $version_pkg.BuildUser=es-inference-operator"

list_packages() { cd "$src" && go list "${common[@]}" -deps "$package" >"$work/.packages"; }
build() { cd "$src" && go build -v "${common[@]}" -ldflags "-s -w $stamp" -o "$work/promtool" "$package"; }

progress_step "1/2 downloading modules" 0 list_packages
progress_step "2/2 building promtool" "$(wc -l <"$work/.packages" | tr -d ' ')" build
rm -f "$work/.packages"

# A binary that cannot tell its version is not one we trust to cache.
built=$("$work/promtool" --version 2>&1 | head -1)

rm -rf "$dir"
mv "$work" "$dir"
mv "$log" "$dir/build.log"
trap - EXIT INT TERM
touch "$dir/.complete"
progress_measure_cpu
echo "Built in $(progress_clock $((SECONDS - progress_started))) using $(progress_clock "$progress_cpu_seconds") of CPU" \
  "($progress_summary):" >&2
echo "$built" >&2
echo "$(du -sh "$dir/promtool" | cut -f1) binary in $dir (Go's output: $dir/build.log)" >&2
echo "$dir/promtool"
