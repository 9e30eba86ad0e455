#!/usr/bin/env bash
# Finds (or fetches) the Prometheus Operator's CRDs that the chart's and the Kustomize component's monitoring
# objects need (ServiceMonitor, PodMonitor, PrometheusRule: monitoring.coreos.com/v1), and prints as its last line
# the folder holding them, one file each (monitoring.coreos.com_<plural>.yaml).
#
# Order of precedence, like testbed/fetch-eck-crds.sh:
#   1. PROMETHEUS_OPERATOR_CRDS_DIR: a folder with those three files (the Prometheus Operator's
#      example/prometheus-operator-crd/, or a bundle split by kind), used as it is.
#   2. The project's cache, keyed by version, outside the work tree:
#      ~/.cache/es-inference-operator/prometheus-operator/<version>/, filled from the Go module
#      github.com/prometheus-operator/prometheus-operator that testbed/prometheus-operator/go.sum pins (the Go
#      module proxy serves it; nothing of it is built). Its files are never copied into the work tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
module=github.com/prometheus-operator/prometheus-operator
files=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_podmonitors.yaml
  monitoring.coreos.com_prometheusrules.yaml)

has_all() {
  local file
  for file in "${files[@]}"; do [ -f "$1/$file" ] || return 1; done
}

if [ -n "${PROMETHEUS_OPERATOR_CRDS_DIR:-}" ]; then
  if ! has_all "$PROMETHEUS_OPERATOR_CRDS_DIR"; then
    echo "PROMETHEUS_OPERATOR_CRDS_DIR=$PROMETHEUS_OPERATOR_CRDS_DIR lacks one of ${files[*]}" >&2
    exit 1
  fi
  echo "$PROMETHEUS_OPERATOR_CRDS_DIR"
  exit 0
fi

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/prometheus-operator/$PROMETHEUS_OPERATOR_VERSION"
if [ -f "$dir/.complete" ] && has_all "$dir"; then
  echo "$dir"
  exit 0
fi

export GOWORK=off GOFLAGS=-mod=readonly
pinned=$(cd "$here/prometheus-operator" && go list -m -f '{{.Version}}' "$module")
if [ "$pinned" != "$PROMETHEUS_OPERATOR_VERSION" ]; then
  echo "testbed/prometheus-operator/go.mod pins $module $pinned" \
    "but versions.env says PROMETHEUS_OPERATOR_VERSION=$PROMETHEUS_OPERATOR_VERSION" >&2
  exit 1
fi
echo "Fetching $module@$PROMETHEUS_OPERATOR_VERSION (its CRDs) from the Go module proxy into $dir" >&2
start=$SECONDS
# Checked against testbed/prometheus-operator/go.sum: a zip that does not match the pinned hash is refused.
(cd "$here/prometheus-operator" && go mod download "$module")
source_dir=$(cd "$here/prometheus-operator" && go list -m -f '{{.Dir}}' "$module")

work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
# example/prometheus-operator-crd/ is what the Prometheus Operator's own bundle.yaml installs, one CRD a file.
for file in "${files[@]}"; do cp "$source_dir/example/prometheus-operator-crd/$file" "$work/"; done
chmod -R u+w "$work"
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
echo "Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs (${files[*]}): $(du -sh "$dir" | cut -f1) in $dir," \
  "in $((SECONDS - start)) s" >&2
echo "$dir"
