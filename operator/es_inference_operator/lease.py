"""Leader election by a `coordination.k8s.io/v1` Lease: the settings, and the decisions as plain functions.

client-go's `tools/leaderelection` is the reference, its semantics and its defaults (lease 15 s, renew deadline
10 s, retry period 2 s: controller-runtime's too):

- A candidate takes the Lease when nobody holds it, or when its holder has not changed the record for the
  record's leaseDurationSeconds, measured on the candidate's own monotonic clock from the moment it first saw
  the record as it is (`observe`). Never from the renewTime another machine's wall clock wrote.
- Writes are optimistic: an update carries the resourceVersion read, and a 409 means somebody else won.
- Fencing (`may_write`): the leader writes to Elasticsearch only while its monotonic clock is before the
  moment its last successful renew was sent plus the renew deadline. Another replica can take the Lease only a
  lease duration after it saw that renew, which was after it was sent: the leader stops at least
  lease duration - renew deadline (5 s) before anybody else may start, whatever the network does.
- Release (client-go's ReleaseOnCancel): the holder cleared and a lease of 1 s, so that the next candidate
  takes it at its next try: a rolling update hands over in about the retry period.

The elector that runs these decisions against the API server is in leader.py.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import _bool

DEFAULT_LEASE_NAME = "es-inference-operator"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
JITTER_FACTOR = 1.2  # client-go's: the renew deadline must exceed the retry period by this factor


@dataclass(frozen=True)
class ElectionSettings:
    lease_name: str
    namespace: str
    identity: str  # unique per process: a restarted process is a new candidate
    lease_duration: int = 15  # seconds; the Lease's leaseDurationSeconds is an integer
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_name or not self.namespace or not self.identity:
            raise ValueError("leader election needs a Lease name, a namespace and an identity")
        if self.retry_period <= 0 or self.renew_deadline <= 0:
            raise ValueError("the leader election timings must be positive")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"OPERATOR_LEASE_DURATION_SECONDS ({self.lease_duration}) must be greater than "
                f"OPERATOR_LEASE_RENEW_DEADLINE_SECONDS ({self.renew_deadline:g})"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError(
                f"OPERATOR_LEASE_RENEW_DEADLINE_SECONDS ({self.renew_deadline:g}) must be greater than "
                f"{JITTER_FACTOR} x OPERATOR_LEASE_RETRY_PERIOD_SECONDS ({self.retry_period:g})"
            )

    @property
    def request_timeout(self) -> float:
        """Each call to the API server: half the renew deadline, so that a renew stuck on one call can still be
        tried again before the deadline."""
        return self.renew_deadline / 2

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        enabled: bool | None = None,
        namespace_file: Path = SERVICE_ACCOUNT_NAMESPACE,
    ) -> ElectionSettings | None:
        """The settings, or None when leader election is off (`enabled`, the --leader-elect flag, wins over
        OPERATOR_LEADER_ELECTION). Raises ValueError on a bad value, or without a namespace for the Lease."""
        env = os.environ if env is None else env
        if enabled is None:
            enabled = _bool(env.get("OPERATOR_LEADER_ELECTION"), False)
        if not enabled:
            return None
        namespace = env.get("POD_NAMESPACE") or (namespace_file.read_text().strip() if namespace_file.exists() else "")
        if not namespace:
            raise ValueError("leader election needs the Lease's namespace: set POD_NAMESPACE")
        base = env.get("POD_NAME") or socket.gethostname()
        return cls(
            lease_name=env.get("OPERATOR_LEASE_NAME") or DEFAULT_LEASE_NAME,
            namespace=namespace,
            identity=f"{base}_{uuid.uuid4().hex[:12]}",
            lease_duration=int(env.get("OPERATOR_LEASE_DURATION_SECONDS", 15)),
            renew_deadline=float(env.get("OPERATOR_LEASE_RENEW_DEADLINE_SECONDS", 10)),
            retry_period=float(env.get("OPERATOR_LEASE_RETRY_PERIOD_SECONDS", 2)),
        )


@dataclass(frozen=True)
class LeaseRecord:
    """The Lease's spec, as client-go's LeaderElectionRecord."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> LeaseRecord:
        spec = spec or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"leaseDurationSeconds": self.duration_seconds, "leaseTransitions": self.transitions}
        if self.holder:
            spec["holderIdentity"] = self.holder
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


@dataclass(frozen=True)
class Observation:
    """The Lease as this process last read or wrote it."""

    record: LeaseRecord
    resource_version: str
    seen_at: float  # this process's monotonic time when it first saw `record` as it is


def observe(previous: Observation | None, record: LeaseRecord, resource_version: str, now: float) -> Observation:
    """The clock of a lease restarts only when its record changes (a new resourceVersion alone, from a label,
    does not renew anybody's lease)."""
    if previous is not None and previous.record == record:
        return Observation(record, resource_version, previous.seen_at)
    return Observation(record, resource_version, now)


def expires_at(observation: Observation) -> float:
    """When the holder's lease ends, on this process's monotonic clock."""
    return observation.seen_at + observation.record.duration_seconds


def may_acquire(observation: Observation | None, identity: str, now: float) -> bool:
    """May this candidate write itself into the Lease now? Yes when there is none yet, nobody holds it (released),
    it holds it already, or the holder's lease has expired."""
    if observation is None:
        return True
    holder = observation.record.holder
    return not holder or holder == identity or now >= expires_at(observation)


def record_to_write(current: LeaseRecord | None, identity: str, lease_duration: int, wall_now: str) -> LeaseRecord:
    """What an acquire or renew writes: a renew keeps the acquire time and the transitions; a new holder counts
    one more transition."""
    if current is None:
        return LeaseRecord(identity, lease_duration, wall_now, wall_now, 0)
    if current.holder == identity:
        return replace(current, duration_seconds=lease_duration, renew_time=wall_now)
    return LeaseRecord(identity, lease_duration, wall_now, wall_now, current.transitions + 1)


def released_record(current: LeaseRecord, wall_now: str) -> LeaseRecord:
    """client-go's release: no holder, a lease of 1 s, the transitions kept."""
    return LeaseRecord("", 1, wall_now, wall_now, current.transitions)


def may_write(renew_sent_at: float | None, renew_deadline: float, now: float) -> bool:
    """Fencing: True only while `now` (monotonic) is before the last successful acquire or renew's sending time
    plus the renew deadline. None: this process does not hold the Lease."""
    return renew_sent_at is not None and now < renew_sent_at + renew_deadline


def next_try_in(observation: Observation | None, identity: str, now: float, retry_period: float) -> float:
    """How long a candidate waits before its next try: the retry period, or less when the holder's lease ends
    sooner (a killed leader is replaced a lease duration after its last renew was seen, not up to a retry
    period later)."""
    if observation is not None and observation.record.holder not in ("", identity):
        remaining = expires_at(observation) - now
        if 0 < remaining < retry_period:
            return remaining
    return retry_period


def wall_time(moment: datetime | None = None) -> str:
    """A MicroTime as the API server stores it (RFC 3339, microseconds, UTC); informative only: no decision
    reads it back."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
