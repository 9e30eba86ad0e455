#!/usr/bin/env bash
# Builds (or finds) kube-apiserver, kubectl and etcd, and prints as its last line the folder holding them.
#
# Order of precedence, as controller-runtime's envtest looks them up:
#   1. TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBECTL (all three set): linked into one folder.
#   2. KUBEBUILDER_ASSETS: used as it is; nothing is built.
#   3. The project's cache, keyed by versions and build flags, outside the work tree; built from the
#      pinned Go modules in testbed/kubernetes and testbed/etcd when missing.
set -euo pipefail

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

echo "Building the control plane (Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION) into $dir" >&2
echo "A cold build takes about 15-25 minutes on 2 cores; later runs reuse the cache." >&2
start=$(date +%s)
work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
version_pkg=k8s.io/component-base/version
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stamp="-X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$minor"
stamp="$stamp -X $version_pkg.gitTreeState=clean -X $version_pkg.buildDate=$build_date"

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly
# A little more memory for a little less CPU: the machine has plenty of the first, 2 cores of the second.
export GOGC=${GOGC:-200}
common=(-trimpath -pgo=off -buildvcs=false)

(cd "$here/kubernetes" && go build "${common[@]}" -ldflags "all=$stamp -s -w" \
  -o "$work/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
(cd "$here/kubernetes" && go build "${common[@]}" -ldflags "all=$stamp -s -w" \
  -o "$work/kubectl" k8s.io/kubernetes/cmd/kubectl)
(cd "$here/etcd" && go build "${common[@]}" -ldflags "-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3)

# A binary that cannot tell its version is not one we trust to cache.
"$work/kube-apiserver" --version >&2
"$work/kubectl" version --client >&2
"$work/etcd" --version >&2

rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
echo "Built in $(( $(date +%s) - start )) s: $(du -sh "$dir" | cut -f1) in $dir" >&2
echo "$dir"
