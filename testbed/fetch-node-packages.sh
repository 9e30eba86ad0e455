#!/usr/bin/env bash
# Fetches (or finds) the Debian packages the node and the image build run from (testbed/node/debian-packages.txt:
# containerd, runc, CNI plugins, nftables, catatonit, mmdebstrap, buildah and their libraries), unpacked into one
# folder of the project's cache, and prints that folder as its last line. Nothing is installed system-wide.
#
# Order of precedence, like the other testbed/build-*.sh scripts:
#   1. NODE_PACKAGES_ROOT: a folder laid out as the packages unpack (usr/bin/containerd, usr/sbin/runc,
#      usr/lib/cni/bridge, ...), used as it is; nothing is fetched.
#   2. The project's cache, <cache>/debian/<hash of the list>/root; fetched with `apt-get download` (the
#      machine's configured Debian sources, package lists kept in the cache, not in /var/lib/apt) and unpacked
#      with `dpkg-deb -x` when missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list="$here/node/debian-packages.txt"

if [ -n "${NODE_PACKAGES_ROOT:-}" ]; then
  for tool in usr/bin/containerd usr/sbin/runc usr/lib/cni/bridge usr/sbin/nft usr/bin/catatonit; do
    [ -x "$NODE_PACKAGES_ROOT/$tool" ] || { echo "NODE_PACKAGES_ROOT=$NODE_PACKAGES_ROOT lacks $tool" >&2; exit 1; }
  done
  echo "$NODE_PACKAGES_ROOT"
  exit 0
fi

mapfile -t packages < <(grep -vE '^\s*(#|$)' "$list")
hash=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-12)
cache_root=${ES_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator}
dir="$cache_root/debian/$hash"

if [ -f "$dir/.complete" ] && [ -d "$dir/root" ]; then
  echo "$dir/root"
  exit 0
fi

echo "Fetching ${#packages[@]} pinned Debian packages into $dir" >&2
start=$SECONDS
work="$dir.partial.$$"
rm -rf "$work"
mkdir -p "$work/debs" "$work/root" "$work/apt/lists/partial" "$work/apt/archives/partial"
trap 'rm -rf "$work"' EXIT

# The machine's sources, but package lists of our own: /var/lib/apt is left as it is.
apt_options=(-o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt" -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root")
apt-get "${apt_options[@]}" -qq update >&2
if ! (cd "$work/debs" && apt-get "${apt_options[@]}" -qq download "${packages[@]}" >&2); then
  echo "apt-get download failed. The versions Debian offers now:" >&2
  for entry in "${packages[@]}"; do
    name=${entry%%=*}
    echo "  $entry -> $(apt-cache "${apt_options[@]}" policy "$name" | awk '/Candidate:/ {print $2}')" >&2
  done
  echo "Update $list when a point release replaced a pinned version." >&2
  exit 1
fi
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done
printf '%s\n' "${packages[@]}" >"$work/packages.txt"
size=$(du -sh "$work/debs" | cut -f1)
rm -rf "$work/debs" "$work/apt"

rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
touch "$dir/.complete"
echo "Fetched and unpacked in $((SECONDS - start)) s ($size of packages): $(du -sh "$dir/root" | cut -f1) in $dir/root" >&2
echo "$dir/root"
