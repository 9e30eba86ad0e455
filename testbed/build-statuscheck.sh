#!/usr/bin/env bash
# Builds (or finds) statuscheck, the Go program the status tests run (kstatus' status.Compute, Flux's CEL
# health checks and Argo CD's Lua health check, see testbed/statuscheck/main.go), and prints its path as its
# last line.
#
# Order of precedence, like testbed/build-controlplane.sh:
#   1. TEST_ASSET_STATUSCHECK: that binary, used as it is; nothing is built.
#   2. The project's cache outside the work tree, <cache>/statuscheck/<toolchain>_<hash>/statuscheck, the hash
#      taken over the module's go.mod, go.sum and sources (a change to any of them is a new build); built from
#      testbed/statuscheck when missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
src="$here/statuscheck"

if [ -n "${TEST_ASSET_STATUSCHECK:-}" ]; then
  if [ ! -f "$TEST_ASSET_STATUSCHECK" ] || [ ! -x "$TEST_ASSET_STATUSCHECK" ]; then
    echo "TEST_ASSET_STATUSCHECK=$TEST_ASSET_STATUSCHECK is not an executable file" >&2
    exit 1
  fi
  echo "$TEST_ASSET_STATUSCHECK"
  exit 0
fi

flags_key="cgo0-trimpath-sw-pgooff"
hash=$(cd "$src" && cat go.mod go.sum ./*.go | { echo "$flags_key"; cat; } | sha256sum | cut -c1-12)
cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/statuscheck/${STATUSCHECK_GOTOOLCHAIN}_$hash"

if [ -f "$dir/.complete" ] && [ -x "$dir/statuscheck" ]; then
  echo "$dir/statuscheck"
  exit 0
fi

# shellcheck source=progress.sh
. "$here/progress.sh"

echo "Building statuscheck into $dir" >&2
echo "A cold build takes about 4-10 minutes on 2 cores (900 packages); later runs reuse the cache." >&2
work="$dir.partial.$$"
log="$work.log"
rm -rf "$work"
mkdir -p "$work"
trap 'progress_stop; rm -rf "$work" "$log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
progress_begin "$log"

# Flux's runtime (v0.122.0, what kustomize-controller v1.10 uses) needs Go 1.27: the go command fetches that
# toolchain from the Go module proxy once (golang.org/toolchain) and keeps it in the module cache.
export GOTOOLCHAIN=$STATUSCHECK_GOTOOLCHAIN
export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly
export GOGC=${GOGC:-200}
common=(-trimpath -pgo=off -buildvcs=false)

list_packages() { cd "$src" && go list "${common[@]}" -deps . >"$work/.packages"; }
build() { cd "$src" && go build -v "${common[@]}" -ldflags "-s -w" -o "$work/statuscheck" .; }

progress_step "1/2 downloading modules" 0 list_packages
progress_step "2/2 building statuscheck" "$(wc -l <"$work/.packages" | tr -d ' ')" build
rm -f "$work/.packages"

# A binary that cannot tell what it was built from is not one we trust to cache.
built=$("$work/statuscheck" -version)

rm -rf "$dir"
mv "$work" "$dir"
mv "$log" "$dir/build.log"
trap - EXIT INT TERM
touch "$dir/.complete"
progress_measure_cpu
echo "Built in $(progress_clock $((SECONDS - progress_started))) using $(progress_clock "$progress_cpu_seconds") of CPU" \
  "($progress_summary):" >&2
echo "$built" >&2
echo "$(du -sh "$dir" | cut -f1) in $dir (Go's output: $dir/build.log)" >&2
echo "$dir/statuscheck"
