"""The node components' configuration files, written into the node's work folder.

What this machine needs (see node-notes in the shared reference): cgroup v1 with ``failCgroupV1: false`` and the
cgroupfs driver; pods' cgroups under a root of the node's own (``cgroupRoot``: several nodes may run on one
machine); containerd's CRI with ``restrict_oom_score_adj`` (no CAP_SYS_RESOURCE to set the pause container's
-998); anonymous kubelet API with AlwaysAllow (a test node); eviction and image GC thresholds that a small disk
does not trip; pods on a bridge with host-local addresses and no masquerading (no traffic leaves anyway).
"""

from __future__ import annotations

import json
from pathlib import Path

from testbed.node.assets import NodeAssets
from testbed.node.sandbox import NODE_IP, POD_CIDR

__all__ = [
    "CONTAINERD_SOCKET",
    "NODE_NAME",
    "PAUSE_IMAGE",
    "write_cni",
    "write_containerd",
    "write_kube_proxy",
    "write_kubelet",
]

NODE_NAME = "testbed-node"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
PAUSE_IMAGE = "localhost/testbed/pause:catatonit"


def write_containerd(workdir: Path, assets: NodeAssets) -> Path:
    root = workdir / "containerd"
    root.mkdir(parents=True, exist_ok=True)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    text = f"""version = 2
root = "{root / "root"}"
state = "/run/containerd"
# Snapshotters and services a test node does not use.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{CONTAINERD_SOCKET}"

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        BinaryName = "{assets.package_file("usr/sbin/runc")}"
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{assets.cni_bin_dir}"
    conf_dir = "{workdir / "cni"}"
"""
    path = workdir / "containerd.toml"
    path.write_text(text)
    return path


def write_cni(workdir: Path) -> Path:
    folder = workdir / "cni"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "cniVersion": "1.0.0",
        "name": "testbed-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}]},
            },
            {"type": "loopback"},
        ],
    }
    path = folder / "10-testbed.conflist"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_kubelet(workdir: Path, *, cgroup_root: str, client_ca: Path) -> Path:
    resolv = workdir / "resolv.conf"
    resolv.write_text("# no cluster DNS on the test node\n")
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This machine has cgroup v1 only (the memory controller stays bound to v1): kubelet 1.35+ refuses it
        # unless told.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{cgroup_root}",
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "failSwapOn": False,
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "podLogsDir": "/var/log/pods",
        "resolvConf": str(resolv),
        "clusterDomain": "cluster.local",
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "protectKernelDefaults": False,  # its three settings land on the sandbox's own files
        "serializeImagePulls": False,
        "syncFrequency": "10s",
        "nodeStatusReportFrequency": "10s",
        "registerNode": True,
        "localStorageCapacityIsolation": False,
        "maxPods": 50,
        # A container killed on purpose (tests of a leader's failover kill one again and again) comes back
        # after at most a second, not the default back-off of up to 5 minutes.
        "crashLoopBackOff": {"maxContainerRestartPeriod": "1s"},
    }
    path = workdir / "kubelet.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_kube_proxy(workdir: Path, kubeconfig: Path) -> Path:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "nftables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "clusterCIDR": POD_CIDR,
        "detectLocalMode": "ClusterCIDR",
        # Connection tracking limits are the machine's, not a network namespace's: leave them.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "127.0.0.1:10256",
    }
    path = workdir / "kube-proxy.json"
    path.write_text(json.dumps(config, indent=2))
    return path
