"""The image the node runs is the repository's Dockerfile, executed: buildah ran each of its instructions (the
image's history records the final stage's), on the debian:bookworm-slim the test bed made; the image runs the
console script as 65532 from a virtualenv on Debian's Python; the second tag is the same recipe."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

from testbed.node.images import OperatorImages
from tests.deploy.test_image import stages


def _archive(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """An OCI archive's index, and its one image: manifest (with the layers' bytes) and config."""
    with tarfile.open(path) as archive:

        def blob(digest: str) -> bytes:
            member = archive.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}")
            assert member is not None
            return member.read()

        index_file = archive.extractfile("index.json")
        assert index_file is not None
        index = json.loads(index_file.read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layers = [blob(layer["digest"]) for layer in manifest["layers"]]
    return index, {"manifest": manifest, "config": config, "layers": layers}


def test_the_image_is_the_dockerfile_executed(operator_images: OperatorImages) -> None:
    index, image = _archive(operator_images.archive)
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == operator_images.name
    base = image["manifest"]["annotations"]["org.opencontainers.image.base.name"]
    assert base == "docker.io/library/debian:bookworm-slim"
    config = image["config"]
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["es-inference-operator"]
    assert set(config["config"]["ExposedPorts"]) == {"8080/tcp", "8081/tcp"}

    # Each instruction of the final stage, in order, in the image's history (as buildah records them).
    _, final = stages()
    history = [entry.get("created_by", "") for entry in config["history"]]
    recorded = " ".join(history)
    for keyword, args in final.instructions:
        if keyword == "RUN":
            assert " ".join(args.split()) in " ".join(recorded.split()), args
        elif keyword in ("ENV", "USER", "EXPOSE", "ENTRYPOINT"):
            assert keyword in recorded, keyword

    # Debian's Python runs the console script from the virtualenv; no pip left in it.
    files: set[str] = set()
    for layer in image["layers"]:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
            files.update(name.removeprefix("./") for name in tar.getnames())
    assert "usr/bin/python3.11" in files
    assert "opt/es-inference-operator/bin/es-inference-operator" in files
    assert not any(re.search(r"opt/es-inference-operator/lib/python3\.11/site-packages/pip/", f) for f in files)


def test_the_second_tag_is_the_same_recipe(operator_images: OperatorImages) -> None:
    _, first = _archive(operator_images.archive)
    index, second = _archive(operator_images.next_archive)
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == operator_images.next_name
    assert [layer["digest"] for layer in second["manifest"]["layers"]] == [
        layer["digest"] for layer in first["manifest"]["layers"]
    ]
    assert second["config"]["config"]["Labels"]["dev.es-operator.testbed.build"] == "next"
