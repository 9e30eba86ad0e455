#!/usr/bin/env bash
# Builds (or finds) the operator's image from the repository's Dockerfile, without a registry or a daemon, and
# prints as its last line the folder holding it as OCI archives (what `ctr images import` takes):
#   operator.tar   ghcr.io/es-inference-operator/es-inference-operator:<version of pyproject.toml>
#   next.tar       the same recipe built again as <version>-next (a second tag for rolling updates)
#
# 1. The Dockerfile's base, debian:bookworm-slim, is made locally by mmdebstrap (Debian's minbase variant,
#    documentation and locales left out as the official slim image does) from the machine's configured Debian
#    sources, and cached by recipe: <cache>/images/debian-bookworm-slim/<hash>/rootfs.tar.
# 2. buildah (daemonless; chroot isolation; its storage a temporary folder) imports it under that exact name
#    and runs every instruction of the Dockerfile, with the machine's network for the RUN steps (apt-get from
#    Debian, pip from PyPI) and the machine's CA bundle mounted read-only for pip (never into the image).
# 3. The images are cached by the hash of the Dockerfile and of the build context .dockerignore lets in:
#    <cache>/images/operator/<hash>/.
# buildah, mmdebstrap and their libraries come from testbed/fetch-node-packages.sh; nothing is installed
# system-wide. OPERATOR_IMAGE_DIR: a folder with your own operator.tar, next.tar and names.txt (their names, one a
# line), used as it is.
set -euo pipefail

{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

if [ -n "${OPERATOR_IMAGE_DIR:-}" ]; then
  for file in operator.tar next.tar names.txt; do
    [ -f "$OPERATOR_IMAGE_DIR/$file" ] || { echo "OPERATOR_IMAGE_DIR=$OPERATOR_IMAGE_DIR lacks $file" >&2; exit 1; }
  done
  echo "$OPERATOR_IMAGE_DIR"
  exit 0
fi

cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
repository=ghcr.io/es-inference-operator/es-inference-operator
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -1)

# The build context as .dockerignore lets it in (only these paths, see .dockerignore), hashed with the Dockerfile.
context_hash=$(cd "$repo" && find Dockerfile .dockerignore pyproject.toml README.md operator -type f \
  ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum \
  | sha256sum | cut -c1-12)
dir="$cache_root/images/operator/$context_hash"
if [ -f "$dir/.complete" ]; then
  touch "$dir/.complete"  # when it was last used: the pruning below keeps the recently used ones
  echo "$dir"
  exit 0
fi

packages=$(bash "$here/fetch-node-packages.sh")
mmdebstrap_version=$(grep '^mmdebstrap=' "$here/node/debian-packages.txt" | cut -d= -f2)
base_options=(--variant=minbase --mode=root --format=tar
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*')
base_hash=$(printf '%s\n' bookworm "$mmdebstrap_version" "${base_options[@]}" | sha256sum | cut -c1-12)
base_dir="$cache_root/images/debian-bookworm-slim/$base_hash"

started=$SECONDS
work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work/storage" "$work/run" "$work/tmp"
trap 'rm -rf "$work"' EXIT

export PATH="$packages/usr/bin:$packages/usr/sbin:$PATH"
if [ ! -f "$base_dir/.complete" ]; then
  echo "Making debian:bookworm-slim with mmdebstrap $mmdebstrap_version into $base_dir (about 1 minute)" >&2
  rm -rf "$base_dir.partial"
  mkdir -p "$base_dir.partial"
  perl "$packages/usr/bin/mmdebstrap" "${base_options[@]}" bookworm "$base_dir.partial/rootfs.tar" \
    http://deb.debian.org/debian >"$base_dir.partial/mmdebstrap.log" 2>&1 \
    || { tail -20 "$base_dir.partial/mmdebstrap.log" >&2; exit 1; }
  rm -rf "$base_dir"
  mv "$base_dir.partial" "$base_dir"
  touch "$base_dir/.complete"
fi
base_seconds=$((SECONDS - started))

echo "Building the operator's image from the Dockerfile with buildah into $dir (2-3 minutes)" >&2
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' "$work/storage" "$work/run" >"$work/storage.conf"
printf '[global]\ncert = /etc/pip-build-ca.pem\n' >"$work/pip.conf"
policy="$packages/etc/containers/policy.json"
cat >"$work/build.sh" <<EOF
set -euo pipefail
# The packages' libraries where the loader looks: buildah re-executes itself with a cleared environment.
mount -t overlay overlay -o "lowerdir=$packages/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" \
  /usr/lib/x86_64-linux-gnu
export TMPDIR="$work/tmp" CONTAINERS_STORAGE_CONF="$work/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$packages/etc/containers/registries.conf"
base=\$(buildah from scratch)
buildah add --quiet "\$base" "$base_dir/rootfs.tar" /
buildah config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "\$base"
buildah commit --quiet --signature-policy "$policy" --rm "\$base" docker.io/library/debian:bookworm-slim >/dev/null
build() {
  buildah build --signature-policy "$policy" --isolation chroot --network host --layers --pull=never \\
    -v "$work/pip.conf:/etc/pip.conf:ro" -v /etc/ssl/certs/ca-certificates.crt:/etc/pip-build-ca.pem:ro \\
    "\$@" "$repo"
}
build -t "$repository:$version"
build --label "dev.es-operator.testbed.build=next" -t "$repository:$version-next"
buildah push --quiet --signature-policy "$policy" "$repository:$version" \\
  "oci-archive:$work/operator.tar:$repository:$version"
buildah push --quiet --signature-policy "$policy" "$repository:$version-next" \\
  "oci-archive:$work/next.tar:$repository:$version-next"
EOF
# A mount namespace of its own: the overlay and buildah's mounts end with it.
if ! unshare --mount --propagation private bash "$work/build.sh" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  exit 1
fi
printf '%s\n' "$repository:$version" "$repository:$version-next" >"$work/names.txt"
rm -rf "$work/storage" "$work/run" "$work/tmp" "$work/build.sh" "$work/storage.conf" "$work/pip.conf"
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
# Each change of the context is a new entry (290 MB): keep the four used last (work trees share the cache).
for old in $(ls -1td "$cache_root"/images/operator/*/.complete 2>/dev/null | tail -n +5); do
  rm -rf "$(dirname "$old")"
done
echo "Built in $((SECONDS - started)) s (the base $base_seconds s): $repository:$version and :$version-next," \
  "$(du -sh "$dir/operator.tar" | cut -f1) each, in $dir" >&2
echo "$dir"
exit
}
