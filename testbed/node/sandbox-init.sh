#!/usr/bin/env bash
# Sets up the node's namespaces from inside (run by catatonit, PID 1 of the new PID namespace; see sandbox.py),
# then waits. Everything here happens in the new mount and network namespaces: the machine sees none of it.
set -euo pipefail

# The network: loopback, and the node's address on it. No other interface, no route out.
ip link set lo up
ip addr add "$NODE_IP/32" dev lo
echo 1 >/proc/sys/net/ipv4/ip_forward  # per network namespace: pods reach the node's address through it

# Folders the kubelet, containerd's shims and libcni hard-code, made private to the node.
mount -t tmpfs -o mode=0755 tmpfs /run
for folder in lib log; do
  mkdir -p "$WORKDIR/var-$folder"
  mount --bind "$WORKDIR/var-$folder" "/var/$folder"
done

# The packages' libraries (nft's libnftables, ...) where the dynamic loader looks, for every process inside.
mount -t overlay overlay -o "lowerdir=$PACKAGES_LIB:/usr/lib/x86_64-linux-gnu" /usr/lib/x86_64-linux-gnu

# The kubelet sets these machine-wide settings (protectKernelDefaults: false): it writes to files of ours.
mkdir -p "$WORKDIR/sysctl"
for entry in vm/overcommit_memory kernel/panic kernel/panic_on_oops; do
  file="$WORKDIR/sysctl/${entry//\//.}"
  cat "/proc/sys/$entry" >"$file"
  cp "$file" "$file.machine"  # the machine's value, for the record (tests check it stays so)
  mount --bind "$file" "/proc/sys/$entry"
done

touch "$WORKDIR/sandbox.ready"
exec sleep infinity
