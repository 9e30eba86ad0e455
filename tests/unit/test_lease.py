"""Leader election's decisions (lease.py), table-tested: may I acquire, am I fenced, what to write, how long to
wait; and the settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from es_inference_operator import lease
from es_inference_operator.lease import ElectionSettings, LeaseRecord, Observation

ME, OTHER = "me_1", "other_2"
T0, T1 = "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:09.000000Z"


def held(holder: str, duration: int = 15, seen_at: float = 100.0) -> Observation:
    return Observation(LeaseRecord(holder, duration, T0, T0, 3), "41", seen_at)


@pytest.mark.parametrize(
    ("observation", "now", "expected"),
    [
        (None, 100.0, True),  # no Lease yet: create it
        (held(""), 100.0, True),  # released (holder cleared)
        (held(ME), 100.0, True),  # mine: renew
        (held(OTHER), 100.0, False),  # another's, just seen
        (held(OTHER), 114.9, False),  # not yet a lease duration since it last changed
        (held(OTHER), 115.0, True),  # a lease duration since: expired
        (held(OTHER, duration=1), 101.0, True),  # a released-on-cancel lease of 1 s
    ],
    ids=["none", "released", "mine", "other-fresh", "other-almost", "other-expired", "short-lease"],
)
def test_may_acquire(observation: Observation | None, now: float, expected: bool) -> None:
    assert lease.may_acquire(observation, ME, now) is expected


def test_expiry_counts_from_when_the_record_was_seen_changing_not_from_its_renew_time() -> None:
    first = lease.observe(None, LeaseRecord(OTHER, 15, T0, T0, 0), "1", now=10.0)
    # The same record read again later (another resourceVersion, a label changed): the clock does not restart.
    same = lease.observe(first, LeaseRecord(OTHER, 15, T0, T0, 0), "2", now=20.0)
    assert same.seen_at == 10.0 and same.resource_version == "2"
    assert lease.may_acquire(same, ME, 25.0)
    # A renew (whatever time it writes, even one in the past by our wall clock) restarts it.
    renewed = lease.observe(same, LeaseRecord(OTHER, 15, T0, "1999-01-01T00:00:00.000000Z", 0), "3", now=24.0)
    assert renewed.seen_at == 24.0
    assert not lease.may_acquire(renewed, ME, 25.0) and lease.may_acquire(renewed, ME, 39.0)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, LeaseRecord(ME, 15, T1, T1, 0)),  # created
        (LeaseRecord(ME, 15, T0, T0, 3), LeaseRecord(ME, 15, T0, T1, 3)),  # renewed: acquire time and count kept
        (LeaseRecord(OTHER, 15, T0, T0, 3), LeaseRecord(ME, 15, T1, T1, 4)),  # taken over: one more transition
        (LeaseRecord("", 1, T0, T0, 4), LeaseRecord(ME, 15, T1, T1, 5)),  # taken after a release
    ],
    ids=["create", "renew", "takeover", "after-release"],
)
def test_record_to_write(current: LeaseRecord | None, expected: LeaseRecord) -> None:
    assert lease.record_to_write(current, ME, 15, T1) == expected


def test_released_record_clears_the_holder_with_a_one_second_lease() -> None:
    released = lease.released_record(LeaseRecord(ME, 15, T0, T0, 4), T1)
    assert released == LeaseRecord("", 1, T1, T1, 4)
    assert released.to_spec() == {
        "leaseDurationSeconds": 1,
        "leaseTransitions": 4,
        "acquireTime": T1,
        "renewTime": T1,
    }  # no holderIdentity at all, as client-go writes it


def test_a_record_survives_the_round_trip_through_the_spec() -> None:
    record = LeaseRecord(ME, 15, T0, T1, 2)
    assert LeaseRecord.from_spec(record.to_spec()) == record
    assert LeaseRecord.from_spec(None) == LeaseRecord()


@pytest.mark.parametrize(
    ("sent_at", "now", "expected"),
    [
        (None, 0.0, False),  # not holding
        (100.0, 100.0, True),
        (100.0, 109.99, True),
        (100.0, 110.0, False),  # the renew deadline: fenced at once
        (100.0, 500.0, False),
    ],
)
def test_may_write(sent_at: float | None, now: float, expected: bool) -> None:
    assert lease.may_write(sent_at, 10.0, now) is expected


@pytest.mark.parametrize(
    ("observation", "now", "expected"),
    [
        (None, 100.0, 2.0),
        (held(OTHER), 100.0, 2.0),  # far from expiry
        (held(OTHER), 114.5, 0.5),  # expires before the next retry: try right then
        (held(OTHER), 116.0, 2.0),  # expired already (the last try failed): the retry period
        (held(""), 100.0, 2.0),
    ],
)
def test_next_try_in(observation: Observation | None, now: float, expected: float) -> None:
    assert lease.next_try_in(observation, ME, now, 2.0) == pytest.approx(expected)


def test_wall_time_is_a_micro_time() -> None:
    assert lease.wall_time().endswith("Z") and len(lease.wall_time()) == len(T0)


# --- settings -------------------------------------------------------------------------------------------------


def test_off_unless_asked(tmp_path: Path) -> None:
    assert ElectionSettings.from_env({}) is None
    assert ElectionSettings.from_env({"OPERATOR_LEADER_ELECTION": "false"}) is None
    assert ElectionSettings.from_env({"OPERATOR_LEADER_ELECTION": "true"}, enabled=False) is None


def test_client_go_defaults_and_a_unique_identity(tmp_path: Path) -> None:
    env = {"OPERATOR_LEADER_ELECTION": "true", "POD_NAME": "op-7d9f-abcde", "POD_NAMESPACE": "ops"}
    settings = ElectionSettings.from_env(env)
    assert settings is not None
    assert (settings.lease_name, settings.namespace) == ("es-inference-operator", "ops")
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == (15, 10.0, 2.0)
    assert settings.request_timeout < settings.renew_deadline
    again = ElectionSettings.from_env(env)
    assert again is not None
    assert settings.identity.startswith("op-7d9f-abcde_") and again.identity != settings.identity


def test_namespace_from_the_service_account_and_timings_from_the_environment(tmp_path: Path) -> None:
    namespace_file = tmp_path / "namespace"
    namespace_file.write_text("from-sa\n")
    env = {
        "OPERATOR_LEASE_NAME": "search-es-inference-operator",
        "OPERATOR_LEASE_DURATION_SECONDS": "6",
        "OPERATOR_LEASE_RENEW_DEADLINE_SECONDS": "4",
        "OPERATOR_LEASE_RETRY_PERIOD_SECONDS": "0.5",
    }
    settings = ElectionSettings.from_env(env, enabled=True, namespace_file=namespace_file)
    assert settings is not None
    assert (settings.lease_name, settings.namespace) == ("search-es-inference-operator", "from-sa")
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == (6, 4.0, 0.5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "POD_NAMESPACE"),
        ({"POD_NAMESPACE": "ops", "OPERATOR_LEASE_DURATION_SECONDS": "10"}, "must be greater than"),
        ({"POD_NAMESPACE": "ops", "OPERATOR_LEASE_RETRY_PERIOD_SECONDS": "9"}, "1.2 x"),
        ({"POD_NAMESPACE": "ops", "OPERATOR_LEASE_RETRY_PERIOD_SECONDS": "0"}, "positive"),
        ({"POD_NAMESPACE": "ops", "OPERATOR_LEASE_DURATION_SECONDS": "15.5"}, "invalid literal"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ElectionSettings.from_env(env, enabled=True, namespace_file=tmp_path / "absent")
