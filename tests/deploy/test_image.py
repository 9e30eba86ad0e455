"""The Dockerfile, as far as it can be checked without a container engine: its structure, its build context
(.dockerignore), the wheel it builds, and the console script it runs. Built from a copy of exactly the files
the Dockerfile copies, so that a file missing from the context fails here rather than in CI's image build."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from testbed.controlplane import REPO_ROOT

from .support import MANIFESTS

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
CONSOLE_SCRIPT = "es-inference-operator"
# What the console script does (`from es_inference_operator.__main__ import main; main()`), saying where from.
RUN_FROM_WHEEL = "import sys, es_inference_operator.__main__ as m; print(m.__file__); m.main(sys.argv[1:])"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments), continuation lines joined


def stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", args, flags=re.I)
            assert match, line
            result.append(Stage(match[1], match[2], []))
        else:
            assert result, f"{keyword} before FROM"
            result[-1].instructions.append((keyword, args))
    return result


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins; `!` re-includes. Enough of its syntax
    for ours: `*`, `**/`, and a folder pattern covering what is under it."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
        hit = any(
            fnmatch.fnmatchcase(p, c)
            for c in candidates
            for p in (prefixes if not pattern.startswith("**/") else suffixes + prefixes)
        )
        if hit:
            result = not negate
    return result


def _ignore(patterns: list[str]) -> Callable[[str, list[str]], list[str]]:
    def names_to_skip(folder: str, names: list[str]) -> list[str]:
        relative = Path(folder).relative_to(REPO_ROOT)
        return [name for name in names if ignored(str(relative / name), patterns)]

    return names_to_skip


def dockerignore() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_two_stages_from_the_debian_base_the_test_bed_makes() -> None:
    """debian:bookworm-slim, with Debian's own Python 3.11: testbed/build-image.sh makes that base from Debian
    packages under exactly that name and builds this Dockerfile on it, so the image tested is this recipe."""
    build, final = stages()
    base_made = (REPO_ROOT / "testbed" / "build-image.sh").read_text()
    for stage in (build, final):
        assert stage.base == "debian:bookworm-slim", stage.base
        assert f"docker.io/library/{stage.base}" in base_made
        assert any(k == "RUN" and "apt-get install" in a and "python3-venv" in a for k, a in stage.instructions)
    assert build.name and final.name is None
    assert any(k == "RUN" and "pip wheel" in a for k, a in build.instructions)
    assert any(k == "COPY" and f"--from={build.name} " in a for k, a in final.instructions)
    assert any(k == "RUN" and "pip install --no-index" in a and CONSOLE_SCRIPT in a for k, a in final.instructions)


def test_the_image_runs_the_console_script_as_a_numeric_non_root_user() -> None:
    _, final = stages()
    users = [a for k, a in final.instructions if k == "USER"]
    assert users, "no USER in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit()), users[-1]
    # The last USER comes after every RUN, so nothing runs as root at run time.
    keywords = [k for k, _ in final.instructions]
    assert "RUN" not in keywords[keywords.index("USER") :]

    entrypoints = [a for k, a in final.instructions if k == "ENTRYPOINT"]
    assert json.loads(entrypoints[-1]) == [CONSOLE_SCRIPT]  # exec form, no shell
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[CONSOLE_SCRIPT] == "es_inference_operator.__main__:main"

    # The Deployment runs as the image's user, and the image's version is the package's.
    deployment = yaml.safe_load((MANIFESTS / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert str(pod["securityContext"]["runAsUser"]) == uid
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert pod["containers"][0]["image"].endswith(f":{version}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by the build stage's `pip wheel` from a copy of what the Dockerfile copies."""
    build, _ = stages()
    patterns = dockerignore()
    context = tmp_path_factory.mktemp("context")
    for keyword, args in build.instructions:
        if keyword != "COPY":
            continue
        *sources, destination = args.split()
        for source in sources:
            path = REPO_ROOT / source
            assert path.exists(), f"COPY {source}: not in the repository"
            assert not ignored(source.rstrip("/"), patterns), f"COPY {source}: excluded by .dockerignore"
            target = context / destination
            if path.is_dir():
                shutil.copytree(path, target, ignore=_ignore(patterns), dirs_exist_ok=True)
            else:
                assert destination.endswith("/"), args
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)
    out = tmp_path_factory.mktemp("wheels")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", str(out), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("es_inference_operator-*.whl")
    return built


def test_dockerignore_keeps_the_repository_out_of_the_context() -> None:
    patterns = dockerignore()
    for path in (
        ".git",
        ".venv",
        "tests/support.py",
        "testbed/controlplane.py",
        "manifests/base/rbac.yaml",
        "emulator/es_emulator/app.py",
    ):
        assert ignored(path, patterns), path
    for path in ("pyproject.toml", "README.md", "operator/es_inference_operator/handlers.py"):
        assert not ignored(path, patterns), path
    assert ignored("operator/es_inference_operator/__pycache__", patterns)


def test_the_wheel_carries_the_operator_and_its_console_script(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert f"{CONSOLE_SCRIPT} = es_inference_operator.__main__:main" in entry_points
    assert "es_inference_operator/handlers.py" in names
    # The emulator is a test tool, a distribution of its own: not in the operator's wheel or image.
    assert not [n for n in names if n.startswith("es_emulator")]
    assert "es-emulator" not in entry_points

    # The packaged code (not the source tree) runs: unpacked beside the test environment's dependencies.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q", "--target",
         str(tmp_path / "site"), str(wheel)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", RUN_FROM_WHEEL, "--help"],
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    where, usage = result.stdout.split("\n", 1)
    assert Path(where).is_relative_to(tmp_path / "site"), where  # the wheel's copy, not the source tree's
    assert usage.startswith(f"usage: {CONSOLE_SCRIPT}") and "--log-format" in usage


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).parent / CONSOLE_SCRIPT
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "--namespace" in result.stdout and "--liveness" in result.stdout
