"""The error the test bed raises when the control plane cannot be found, started or used."""

from __future__ import annotations

__all__ = ["ControlPlaneError"]


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or used; the message carries the relevant log tail."""
