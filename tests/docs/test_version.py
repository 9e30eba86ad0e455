"""One version everywhere it is written: the package, the chart, the image the manifests and README name, the
Dockerfile's build command; the migration note is from an older one."""

from __future__ import annotations

import re
import tomllib

import yaml

from testbed.controlplane import REPO_ROOT

IMAGE = "ghcr.io/es-inference-operator/es-inference-operator"


def version() -> str:
    return str(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_the_chart_is_the_packages_version() -> None:
    chart = yaml.safe_load((REPO_ROOT / "charts" / "es-inference-operator" / "Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == (version(), version())


def test_every_image_tag_written_is_the_packages_version() -> None:
    tags = {}
    for name in ("README.md", "Dockerfile", "manifests/base/deployment.yaml", "docs/development.md"):
        for tag in re.findall(re.escape(IMAGE) + r":([\w.-]+)", (REPO_ROOT / name).read_text()):
            tags.setdefault(tag, []).append(name)
    assert set(tags) == {version()}, tags


def test_the_argocd_examples_point_at_the_release_tag() -> None:
    for path in sorted((REPO_ROOT / "examples" / "argocd").glob("application*.yaml")):
        revisions = set(re.findall(r"targetRevision: (v[\w.-]+)", path.read_text()))
        assert revisions == {f"v{version()}"}, (path.name, revisions)


def test_the_migration_note_is_from_an_older_version() -> None:
    noted = re.findall(r"Migration from (\d+\.\d+\.\d+)", (REPO_ROOT / "README.md").read_text())
    assert noted, "README has no migration note"
    assert all(tuple(map(int, v.split("."))) < tuple(map(int, version().split("."))) for v in noted), noted
