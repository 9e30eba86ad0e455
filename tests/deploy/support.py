"""Helpers for the deployment tests: the README's install section, kustomize renders, a ServiceAccount's
kubeconfig, and RBAC rules as sets of (apiGroup, resource, subresource, verb)."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from testbed.controlplane import REPO_ROOT, ControlPlane

README = REPO_ROOT / "README.md"
MANIFESTS = REPO_ROOT / "manifests"
INSTALL_START = "<!-- install:start -->"
INSTALL_END = "<!-- install:end -->"

NAMESPACE = "es-inference-operator"
SERVICE_ACCOUNT = "es-inference-operator"
SA_USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
CONNECTION_SECRET = "elasticsearch-connection"

# (apiGroup, resource, subresource, verb); "" is the core group, or no subresource.
Permission = tuple[str, str, str, str]


# --- the README ------------------------------------------------------------------------------------------


def install_section() -> str:
    text = README.read_text()
    assert text.count(INSTALL_START) == 1 and text.count(INSTALL_END) == 1, "README: the install markers, once each"
    start, end = text.index(INSTALL_START), text.index(INSTALL_END)
    assert start < end
    return text[start + len(INSTALL_START) : end]


def shell_commands(markdown: str) -> list[str]:
    """The commands of the ```sh blocks, in order: continuation lines joined, comments and blanks dropped."""
    commands: list[str] = []
    for block in re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", markdown, flags=re.S | re.M):
        pending = ""
        for line in block.splitlines():
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            commands.append(" ".join((pending + stripped).split()))
            pending = ""
    return commands


def readme_command(predicate_text: str) -> str:
    """The one command of the install section that contains `predicate_text`."""
    found = [c for c in shell_commands(install_section()) if predicate_text in c]
    assert len(found) == 1, f"README install section: expected one command with {predicate_text!r}, got {found}"
    return found[0]


def install_command() -> str:
    """The install section's first command: the one command that installs everything."""
    commands = shell_commands(install_section())
    assert commands, "README install section: no ```sh block"
    first = commands[0]
    words = shlex.split(first)
    assert words[:2] == ["kubectl", "apply"] and "--server-side" in words and "-k" in words, first
    return first


def run_shell(
    cp: ControlPlane, command: str, *, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a README command as a user types it, from the repository root, with the built kubectl first on
    PATH and the admin kubeconfig."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO_ROOT,
        env={**cp.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command}\nexit {result.returncode}\n{result.stderr}{result.stdout}"
    return result


# --- manifests ---------------------------------------------------------------------------------------------


def render(cp: ControlPlane, folder: str) -> list[dict[str, Any]]:
    """`kubectl kustomize manifests/<folder>` with the built kubectl, parsed."""
    out = cp.kubectl("kustomize", str(MANIFESTS / folder)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(docs: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def granted(role: Mapping[str, Any], *, named: bool = False) -> set[Permission]:
    """A ClusterRole's or Role's rules, expanded (no wildcards expected in ours; no resourceNames unless `named`:
    see resource_names)."""
    result: set[Permission] = set()
    for rule in role["rules"]:
        assert named or "resourceNames" not in rule, rule
        assert "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                base, _, sub = resource.partition("/")
                for verb in rule["verbs"]:
                    assert "*" not in (group, base, sub, verb), rule
                    result.add((group, base, sub, verb))
    return result


def resource_names(role: Mapping[str, Any]) -> dict[Permission, set[str]]:
    """The permissions a role limits to some objects, with those objects' names."""
    names: dict[Permission, set[str]] = {}
    for rule in role["rules"]:
        if "resourceNames" in rule:
            for permission in granted({"rules": [{k: v for k, v in rule.items() if k != "resourceNames"}]}):
                names.setdefault(permission, set()).update(rule["resourceNames"])
    return names


# --- a ServiceAccount's identity ---------------------------------------------------------------------------


def service_account_kubeconfig(cp: ControlPlane, path: Path, *, duration: str = "30m") -> Path:
    """Mint a token for the operator's ServiceAccount (TokenRequest) and write a kubeconfig that uses it."""
    token = cp.kubectl("create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, f"--duration={duration}").stdout.strip()
    assert token.count(".") == 2, "expected a JWT"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testbed", "cluster": {"server": cp.server, "certificate-authority": str(cp.ca_path)}}],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "testbed", "user": SERVICE_ACCOUNT}}],
        "current-context": "operator",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def pod_environment(
    cp: ControlPlane, container: Mapping[str, Any], *, namespace: str = NAMESPACE, pod_name: str = "operator-pod-0"
) -> dict[str, str]:
    """The container's environment as the kubelet would build it: values, the downward API's pod name and
    namespace, and Secret keys read from the API server (an optional key that is absent is left out; a required
    one must be there). There is no kubelet in the testbed: tests run the operator as a local process with this
    environment."""
    env: dict[str, str] = {}
    downward = {"metadata.name": pod_name, "metadata.namespace": namespace}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        if "fieldRef" in entry["valueFrom"]:
            env[entry["name"]] = downward[entry["valueFrom"]["fieldRef"]["fieldPath"]]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        data = cp.kubectl_json("get", "secret", ref["name"], "-n", namespace).get("data", {})
        if ref["key"] in data:
            env[entry["name"]] = base64.b64decode(data[ref["key"]]).decode()
        else:
            assert ref.get("optional"), f"the Deployment needs key {ref['key']} of Secret {ref['name']}"
    return env


def kubectl_as(cp: ControlPlane, kubeconfig: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The built kubectl with another kubeconfig; never raises on a non-zero exit."""
    env = cp.env()
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [str(cp.kubectl_path), f"--kubeconfig={kubeconfig}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
