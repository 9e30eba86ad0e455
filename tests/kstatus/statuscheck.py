"""testbed/statuscheck, the Go program that answers as kstatus, Flux's CEL health checks and Argo CD's Lua do,
found or built by testbed/build-statuscheck.sh (cached outside the tree; TEST_ASSET_STATUSCHECK overrides it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from testbed.controlplane import REPO_ROOT

BUILD_SCRIPT = REPO_ROOT / "testbed" / "build-statuscheck.sh"
FLUX_DOC = REPO_ROOT / "docs" / "flux.md"
CHECK_DIR = REPO_ROOT / "resource_customizations" / "inference.es-operator.dev" / "InferenceEndpoint"
HEALTH_LUA = CHECK_DIR / "health.lua"
TESTDATA = CHECK_DIR / "testdata"

_binary: Path | None = None


def find_statuscheck() -> Path:
    """The binary's path: a cache hit takes milliseconds, a cold build minutes (its progress goes to stderr)."""
    global _binary
    if _binary is None:
        proc = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=sys.stderr, text=True, cwd=REPO_ROOT
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
        _binary = Path(proc.stdout.strip().splitlines()[-1])
    return _binary


def flux_kustomization_from_doc(doc: Path = FLUX_DOC) -> dict[str, Any]:
    """The Kustomization with healthCheckExprs from the doc's ```yaml blocks: what users copy is what is tested."""
    for block in re.findall(r"^```yaml\n(.*?)^```", doc.read_text(), flags=re.M | re.S):
        manifest = yaml.safe_load(block)
        is_kustomization = isinstance(manifest, dict) and manifest.get("kind") == "Kustomization"
        if is_kustomization and manifest.get("spec", {}).get("healthCheckExprs"):
            return dict(manifest)
    raise AssertionError(f"{doc} has no ```yaml block with a Kustomization and spec.healthCheckExprs")


@dataclass(frozen=True)
class Verdict:
    status: str
    message: str
    error: str = ""


@dataclass(frozen=True)
class Report:
    name: str
    kstatus: Verdict
    flux: Verdict
    argocd: Verdict


def _verdict(answer: dict[str, Any], checker: str, strict: bool) -> Verdict:
    if answer.get("error") and strict:
        raise AssertionError(f"{checker} failed: {answer['error']}")
    return Verdict(answer.get("status", ""), answer["message"], answer.get("error", ""))


def check(*objects: dict[str, Any], strict: bool = True) -> list[Report]:
    """What kstatus, Flux (with the expressions of docs/flux.md) and Argo CD (health.lua, without open libraries,
    as an argocd-cm customization) say about each object, in order. A checker's error fails the test, unless
    not `strict`: then it is in the verdict's `error`."""
    with tempfile.TemporaryDirectory(prefix="statuscheck-") as workdir:
        kustomization = Path(workdir) / "kustomization.yaml"
        kustomization.write_text(yaml.safe_dump(flux_kustomization_from_doc()))
        paths = []
        for index, obj in enumerate(objects):
            path = Path(workdir) / f"object-{index}.json"
            path.write_text(json.dumps(obj))
            paths.append(str(path))
        proc = subprocess.run(
            [
                str(find_statuscheck()),
                "-flux-kustomization",
                str(kustomization),
                "-health-lua",
                str(HEALTH_LUA),
                *paths,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if proc.returncode != 0:
        raise AssertionError(f"statuscheck exited with {proc.returncode}: {proc.stderr}")
    reports = []
    for line in proc.stdout.splitlines():
        answer = json.loads(line)
        reports.append(
            Report(
                name=answer["name"],
                kstatus=_verdict(answer["kstatus"], "kstatus", strict),
                flux=_verdict(answer["flux"], "Flux", strict),
                argocd=_verdict(answer["argocd"], "Argo CD", strict),
            )
        )
    assert len(reports) == len(objects), proc.stdout
    return reports


def argocd_health_test(open_libs: bool) -> tuple[int, list[dict[str, Any]]]:
    """`statuscheck -argocd-health-test` on the check's folder: its exit code and one result per case."""
    args = [str(find_statuscheck()), "-argocd-health-test", str(CHECK_DIR)]
    if open_libs:
        args.append("-open-libs")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if proc.returncode not in (0, 1):
        raise AssertionError(f"statuscheck exited with {proc.returncode}: {proc.stderr}")
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def argocd_health(obj: dict[str, Any], script: str, *, open_libs: bool = False) -> Verdict:
    """What `script` returns for `obj` when run as Argo CD runs a health.lua (a Lua error is the verdict's error)."""
    with tempfile.TemporaryDirectory(prefix="statuscheck-") as workdir:
        script_path, object_path = Path(workdir) / "health.lua", Path(workdir) / "object.json"
        script_path.write_text(script)
        object_path.write_text(json.dumps(obj))
        # Flags before the object files: Go's flag package stops at the first argument that is not one.
        flags = ["-health-lua", str(script_path), *(["-open-libs"] if open_libs else [])]
        proc = subprocess.run(
            [str(find_statuscheck()), *flags, str(object_path)], capture_output=True, text=True, timeout=60
        )
    if proc.returncode != 0:
        raise AssertionError(f"statuscheck exited with {proc.returncode}: {proc.stderr}")
    return _verdict(json.loads(proc.stdout)["argocd"], "Argo CD", strict=False)
