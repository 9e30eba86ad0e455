"""Fixtures for the deployment tests: the README's install command, run once on the session's control plane."""

from __future__ import annotations

import subprocess

import pytest

from testbed.controlplane import ControlPlane

from .support import install_command, run_shell


@pytest.fixture(scope="session")
def installed(control_plane: ControlPlane) -> subprocess.CompletedProcess[str]:
    """The README's install command, exactly as written, against the real API server (the session fixture
    has installed the CRD already, so this also shows that the install shares it)."""
    return run_shell(control_plane, install_command())
