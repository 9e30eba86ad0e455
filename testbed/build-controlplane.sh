#!/usr/bin/env bash
# Builds (or finds) kube-apiserver, kubectl and etcd, and prints as its last line the folder holding them.
#
# Order of precedence, as controller-runtime's envtest looks them up:
#   1. TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBECTL (all three set): linked into one folder.
#   2. KUBEBUILDER_ASSETS: used as it is; nothing is built.
#   3. The project's cache, keyed by versions and build flags, outside the work tree; built from the
#      pinned Go modules in testbed/kubernetes and testbed/etcd when missing.
set -euo pipefail

# The whole script is one block that bash reads before running any of it: a build runs for many minutes, and
# bash otherwise reads a script as it goes, so that editing this file during a build broke the build.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

need=(kube-apiserver etcd kubectl)

has_all() {
  local dir=$1 name
  for name in "${need[@]}"; do [ -x "$dir/$name" ] || return 1; done
}

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}

if [ -n "${TEST_ASSET_KUBE_APISERVER:-}" ] && [ -n "${TEST_ASSET_ETCD:-}" ] && [ -n "${TEST_ASSET_KUBECTL:-}" ]; then
  dir="$cache_root/test-assets-links"
  mkdir -p "$dir"
  ln -sf "$TEST_ASSET_KUBE_APISERVER" "$dir/kube-apiserver"
  ln -sf "$TEST_ASSET_ETCD" "$dir/etcd"
  ln -sf "$TEST_ASSET_KUBECTL" "$dir/kubectl"
  echo "$dir"
  exit 0
fi

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if ! has_all "$KUBEBUILDER_ASSETS"; then
    echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${need[*]}" >&2
    exit 1
  fi
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

go_version=$(go env GOVERSION)
flags_key="cgo0-trimpath-sw-pgooff"
dir="$cache_root/controlplane/k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_${go_version}_${flags_key}"

if [ -f "$dir/.complete" ] && has_all "$dir"; then
  echo "$dir"
  exit 0
fi

# shellcheck source=progress.sh
. "$here/progress.sh"

echo "Building the control plane (Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION) into $dir" >&2
# Measured with empty Go caches: 181 modules (115 MB) downloaded, then about 22 CPU-minutes of compiling.
echo "With empty Go caches this downloads 115 MB of modules and compiles for about 22 CPU-minutes: at least" >&2
echo "11 minutes on 2 idle cores, longer when other jobs share them. Later runs reuse the cache." >&2
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
# A little more memory for a little less CPU: the machine has plenty of the first, 2 cores of the second.
export GOGC=${GOGC:-200}
common=(-trimpath -pgo=off -buildvcs=false)

# Listing each binary's packages downloads the modules they need (what `go build` would download first) and
# tells how many packages each build compiles at most.
graph="$work/.packages"
mkdir -p "$graph"
list_packages() {
  (cd "$here/kubernetes" && go list "${common[@]}" -deps k8s.io/kubernetes/cmd/kube-apiserver >"$graph/kube-apiserver")
  (cd "$here/kubernetes" && go list "${common[@]}" -deps k8s.io/kubernetes/cmd/kubectl >"$graph/kubectl")
  (cd "$here/etcd" && go list "${common[@]}" -deps go.etcd.io/etcd/server/v3 >"$graph/etcd")
}
build_apiserver() {
  cd "$here/kubernetes" && go build -v "${common[@]}" -ldflags "all=$stamp -s -w" \
    -o "$work/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
}
build_kubectl() {
  cd "$here/kubernetes" && go build -v "${common[@]}" -ldflags "all=$stamp -s -w" \
    -o "$work/kubectl" k8s.io/kubernetes/cmd/kubectl
}
build_etcd() {
  cd "$here/etcd" && go build -v "${common[@]}" -ldflags "-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3
}
packages_of() { wc -l <"$graph/$1" | tr -d ' '; }

progress_step "1/4 downloading modules" 0 list_packages
progress_step "2/4 building kube-apiserver" "$(packages_of kube-apiserver)" build_apiserver
progress_step "3/4 building kubectl" "$(packages_of kubectl)" build_kubectl
progress_step "4/4 building etcd" "$(packages_of etcd)" build_etcd
rm -rf "$graph"

# A binary that cannot tell its version is not one we trust to cache (a failed assignment stops the script).
apiserver_version=$("$work/kube-apiserver" --version)
kubectl_version=$("$work/kubectl" version --client)
etcd_version=$("$work/etcd" --version)
built=$(printf '  %-15s %s\n' kube-apiserver "${apiserver_version%%$'\n'*}" kubectl "${kubectl_version%%$'\n'*}" \
  etcd "${etcd_version%%$'\n'*}")

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
echo "$dir"
exit
}
