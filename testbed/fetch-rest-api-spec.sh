#!/usr/bin/env bash
# Finds (or fetches) Elasticsearch's published REST API specification, and prints as its last line the folder
# holding its api/*.json (one file per API: paths, methods, path parts, query parameters). The emulator's
# conformance tests and the end-to-end tests' request check (testbed/restspec.py) read it.
#
# Order of precedence, like the other testbed scripts:
#   1. REST_API_SPEC_DIR: a folder with _common.json and the api/*.json files, used as it is.
#   2. The project's cache outside the work tree, <cache>/rest-api-spec/<REST_API_SPEC_VERSION>/api/, filled from
#      Maven Central's org.elasticsearch:rest-api-spec jar (Apache 2.0) at the pinned version, refused unless its
#      SHA-256 is the one testbed/versions.env pins. Nothing else is downloaded; nothing is built.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

if [ -n "${REST_API_SPEC_DIR:-}" ]; then
  if [ ! -f "$REST_API_SPEC_DIR/_common.json" ] || [ ! -f "$REST_API_SPEC_DIR/inference.delete.json" ]; then
    echo "REST_API_SPEC_DIR=$REST_API_SPEC_DIR has no _common.json and inference.delete.json (rest-api-spec/api)" >&2
    exit 1
  fi
  echo "$REST_API_SPEC_DIR"
  exit 0
fi

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/rest-api-spec/$REST_API_SPEC_VERSION"
if [ -f "$dir/.complete" ] && [ -f "$dir/api/_common.json" ]; then
  echo "$dir/api"
  exit 0
fi

version=$REST_API_SPEC_VERSION
url="https://repo1.maven.org/maven2/org/elasticsearch/rest-api-spec/$version/rest-api-spec-$version.jar"
echo "Fetching org.elasticsearch:rest-api-spec:$version from Maven Central into $dir" >&2
start=$(date +%s%N)
work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

jar="$work/rest-api-spec-$version.jar"
curl --fail --silent --show-error --location --retry 3 --max-time 120 --output "$jar" "$url"
actual=$(sha256sum "$jar" | cut -d' ' -f1)
if [ "$actual" != "$REST_API_SPEC_SHA256" ]; then
  echo "rest-api-spec-$version.jar has SHA-256 $actual, but testbed/versions.env pins $REST_API_SPEC_SHA256: refused" >&2
  exit 1
fi
echo "  $(du -k "$jar" | cut -f1) KB, SHA-256 $actual (as pinned)" >&2

# Only rest-api-spec/api/*.json is kept: the jar also holds the YAML tests and schema.json, which nothing here reads.
python3 - "$jar" "$work/api" <<'EOF'
import sys, zipfile
from pathlib import Path

jar, out = sys.argv[1], Path(sys.argv[2])
out.mkdir()
with zipfile.ZipFile(jar) as archive:
    for name in archive.namelist():
        if name.startswith("rest-api-spec/api/") and name.endswith(".json"):
            (out / Path(name).name).write_bytes(archive.read(name))
EOF
rm -f "$jar"
count=$(find "$work/api" -name '*.json' | wc -l)

rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "rest-api-spec $version: $count API files ($(du -sh "$dir" | cut -f1)) in $dir, in ${elapsed_ms} ms" >&2
echo "$dir/api"
