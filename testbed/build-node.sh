#!/usr/bin/env bash
# Builds (or finds) the node's Kubernetes binaries, kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy, and prints as its last line the folder holding them.
#
# Order of precedence, like testbed/build-controlplane.sh:
#   1. TEST_ASSET_KUBELET, TEST_ASSET_KUBE_CONTROLLER_MANAGER, TEST_ASSET_KUBE_SCHEDULER, TEST_ASSET_KUBE_PROXY
#      (all four set): linked into one folder; nothing is built.
#   2. The project's cache, keyed like the control plane's, outside the work tree; built from the same pinned
#      Go module as kube-apiserver (testbed/kubernetes, k8s.io/kubernetes at KUBERNETES_VERSION) when missing.
set -euo pipefail

# One block that bash reads whole before running it: editing this file during a build must not break the build.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

need=(kubelet kube-controller-manager kube-scheduler kube-proxy)

has_all() {
  local dir=$1 name
  for name in "${need[@]}"; do [ -x "$dir/$name" ] || return 1; done
}

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}

if [ -n "${TEST_ASSET_KUBELET:-}" ] && [ -n "${TEST_ASSET_KUBE_CONTROLLER_MANAGER:-}" ] \
  && [ -n "${TEST_ASSET_KUBE_SCHEDULER:-}" ] && [ -n "${TEST_ASSET_KUBE_PROXY:-}" ]; then
  dir="$cache_root/test-assets-node-links"
  mkdir -p "$dir"
  ln -sf "$TEST_ASSET_KUBELET" "$dir/kubelet"
  ln -sf "$TEST_ASSET_KUBE_CONTROLLER_MANAGER" "$dir/kube-controller-manager"
  ln -sf "$TEST_ASSET_KUBE_SCHEDULER" "$dir/kube-scheduler"
  ln -sf "$TEST_ASSET_KUBE_PROXY" "$dir/kube-proxy"
  has_all "$dir" || { echo "one of the TEST_ASSET_* node binaries is not executable" >&2; exit 1; }
  echo "$dir"
  exit 0
fi

go_version=$(go env GOVERSION)
flags_key="cgo0-trimpath-sw-pgooff"
dir="$cache_root/node/k8s-${KUBERNETES_VERSION}_${go_version}_${flags_key}"

if [ -f "$dir/.complete" ] && has_all "$dir"; then
  echo "$dir"
  exit 0
fi

# shellcheck source=progress.sh
. "$here/progress.sh"

echo "Building the node's binaries (Kubernetes $KUBERNETES_VERSION: ${need[*]}) into $dir" >&2
# Measured (see docs/development.md): with the control plane's Go build cache warm about 4 CPU-minutes; cold
# (empty Go caches) about 25 CPU-minutes.
echo "With the control plane already built this compiles for about 4 CPU-minutes; with empty Go caches for" >&2
echo "about 25. Later runs reuse the cache." >&2
work="$dir.partial.$$"
log="$work.log"
rm -rf "$work"
mkdir -p "$work"
trap 'progress_stop; rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
progress_begin "$log"
echo "Go's output goes to $log" >&2

minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
version_pkg=k8s.io/component-base/version
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stamp="-X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$minor"
stamp="$stamp -X $version_pkg.gitTreeState=clean -X $version_pkg.buildDate=$build_date"

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly
export GOGC=${GOGC:-200}
common=(-trimpath -pgo=off -buildvcs=false)

graph="$work/.packages"
mkdir -p "$graph"
list_packages() {
  local name
  for name in "${need[@]}"; do
    (cd "$here/kubernetes" && go list "${common[@]}" -deps "k8s.io/kubernetes/cmd/$name" >"$graph/$name")
  done
}
build_one() {
  cd "$here/kubernetes" && go build -v "${common[@]}" -ldflags "all=$stamp -s -w" \
    -o "$work/$1" "k8s.io/kubernetes/cmd/$1"
}
packages_of() { wc -l <"$graph/$1" | tr -d ' '; }

progress_step "1/5 downloading modules" 0 list_packages
step=2
for name in "${need[@]}"; do
  progress_step "$step/5 building $name" "$(packages_of "$name")" build_one "$name"
  step=$((step + 1))
done
rm -rf "$graph"

# A binary that cannot tell its version is not one we trust to cache (a failed assignment stops the script).
built=""
for name in "${need[@]}"; do
  version=$("$work/$name" --version 2>&1)
  built+=$(printf '  %-24s %s' "$name" "${version%%$'\n'*}")$'\n'
done

rm -rf "$dir"
mv "$work" "$dir"
mv "$log" "$dir/build.log"
trap - EXIT INT TERM
touch "$dir/.complete"
progress_measure_cpu
echo "Built in $(progress_clock $((SECONDS - progress_started))) using $(progress_clock "$progress_cpu_seconds") of CPU" \
  "($progress_summary):" >&2
printf '%s' "$built" >&2
echo "$(du -sh "$dir" | cut -f1) in $dir (Go's output: $dir/build.log)" >&2
echo "$dir"
exit
}
