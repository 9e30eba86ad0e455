"""The node's images, without a registry: the pause image (Debian's static catatonit, run as ``catatonit -P``,
in a one-layer OCI archive made here) and the operator's (the repository's Dockerfile built by buildah,
``testbed/build-image.sh``), put into containerd with ``ctr -n k8s.io images import``.

The CRI finds an image by its full name (``IfNotPresent`` then needs no pull): the manifests' and the chart's
``ghcr.io/es-inference-operator/es-inference-operator:<version>`` is the name the image is imported under.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from testbed.binaries import TESTBED, run_build_script
from testbed.errors import ControlPlaneError
from testbed.node.sandbox import Sandbox

__all__ = ["BUILD_IMAGE_SCRIPT", "OperatorImages", "find_operator_images", "import_image", "write_pause_image"]

BUILD_IMAGE_SCRIPT = TESTBED / "build-image.sh"
CONTAINERD_NAMESPACE = "k8s.io"


@dataclass(frozen=True)
class OperatorImages:
    """The operator's image as built from the Dockerfile, and the same recipe under a second tag."""

    folder: Path
    name: str  # ghcr.io/es-inference-operator/es-inference-operator:<version>
    next_name: str  # ...:<version>-next

    @property
    def archive(self) -> Path:
        return self.folder / "operator.tar"

    @property
    def next_archive(self) -> Path:
        return self.folder / "next.tar"

    @property
    def next_tag(self) -> str:
        return self.next_name.rsplit(":", 1)[1]


_images: OperatorImages | None = None


def find_operator_images(*, echo: IO[str] | None = None) -> OperatorImages:
    """Run ``build-image.sh`` (a cache hit is milliseconds; a build 2-3 minutes, more on a busy machine)."""
    global _images
    if _images is None:
        folder = Path(run_build_script(BUILD_IMAGE_SCRIPT, echo=echo))
        names = (folder / "names.txt").read_text().split()
        if len(names) != 2 or not all((folder / f).is_file() for f in ("operator.tar", "next.tar")):
            raise ControlPlaneError(f"{BUILD_IMAGE_SCRIPT} printed {folder}, which lacks the two images")
        _images = OperatorImages(folder, names[0], names[1])
    return _images


def _blob(layout: tarfile.TarFile, data: bytes, media_type: str) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    layout.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def write_pause_image(catatonit: Path, path: Path, name: str) -> Path:
    """An OCI archive of one layer holding ``/catatonit``, whose entrypoint is ``catatonit -P`` (pause)."""
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as layer:
        layer.add(catatonit, arcname="catatonit")
    diff = layer_tar.getvalue()
    compressed = gzip.compress(diff, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/catatonit", "-P"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(diff).hexdigest()}"]},
    }
    with tarfile.open(path, mode="w") as layout:
        layer_blob = _blob(layout, compressed, "application/vnd.oci.image.layer.v1.tar+gzip")
        config_blob = _blob(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_blob,
            "layers": [layer_blob],
        }
        manifest_blob = _blob(layout, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        manifest_blob["annotations"] = {"org.opencontainers.image.ref.name": name}
        for file_name, content in (
            ("oci-layout", {"imageLayoutVersion": "1.0.0"}),
            ("index.json", {"schemaVersion": 2, "manifests": [manifest_blob]}),
        ):
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(file_name)
            info.size = len(data)
            layout.addfile(info, io.BytesIO(data))
    return path


def import_image(sandbox: Sandbox, archive: Path, name: str) -> None:
    """``ctr images import`` into the CRI's namespace, under ``name`` (the archive's own reference name).

    ``--all-platforms``: the archive has the one platform it was built for; ``--no-unpack`` is not used, so
    the first container does not wait for the unpacking.
    """
    result = sandbox.run(
        "ctr", f"--namespace={CONTAINERD_NAMESPACE}", "images", "import", "--all-platforms", str(archive),
        timeout=300,
    )  # fmt: skip
    listed = sandbox.run("ctr", f"--namespace={CONTAINERD_NAMESPACE}", "images", "list", "--quiet").stdout.split()
    if name not in listed:
        raise ControlPlaneError(f"ctr imported {archive} but no {name} is listed ({listed}); {result.stdout}")
