"""Two replicas with leader election (issue 16, item 4), on the real API server with one Elasticsearch, with
client-go's timings (lease 15 s, renew deadline 10 s, retry 2 s). The emulator's request log, which records each
request's arrival time and user (one per replica), is the witness: only the leader sends anything; the standby
takes over when the leader is killed (within 20 s), stopped (about the retry period: it releases the Lease) or
cut off from the API server (it stops writing at its renew deadline, before the Lease can be taken, and exits);
no pending work is lost and no Elasticsearch write is sent twice for one intent.

Each test prints its takeover time (README "High availability" reports them)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from testbed.stack import wait_for
from testbed.tcpproxy import TcpProxy
from tests.support import Kube, endpoint_manifest

from .support import (
    LEASE_DURATION,
    RENEW_DEADLINE,
    Replicas,
    admin_kubeconfig_via,
    endpoints,
    is_write,
    names,
    rss_mib,
    samples,
    wait_all_gone,
    wait_all_ready,
    wait_leading,
    write_counts,
)

if TYPE_CHECKING:
    from pathlib import Path

    from es_emulator import EmulatorServer

A, B = "replica-a", "replica-b"
STOP_GRACE = 5.0  # supervisor.STOP_GRACE_SECONDS: how long a replica that lost the Lease lets kopf stop


def test_only_the_leader_acts_and_a_killed_leader_is_replaced(
    replicas: Replicas, kube: Kube, emulator: EmulatorServer
) -> None:
    a = replicas.start(A)
    a.wait_leading(30)
    b = replicas.start(B)
    standby = b.readiness()
    assert standby["ready"] and standby["leaderElection"] and not standby["leading"]
    assert replicas.holder() == a.readiness()["identity"]

    kube.apply(endpoints("first", 6))
    wait_all_ready(kube, names("first", 6), timeout=60)
    # The standby sent nothing to Elasticsearch and watches nothing: no request in the log, no request in its
    # metrics, no kopf in its log.
    assert replicas.requests_by(A) and not replicas.requests_by(B)
    metrics = b.metrics_text()
    assert samples(metrics, "es_inference_operator_leader") == [("", 0.0)]
    assert not samples(metrics, "es_inference_operator_elasticsearch_requests_total")
    assert "leading as" not in b.log_text() and "standing by as" in b.log_text()
    print(f"standby: {rss_mib(b):.0f} MiB resident; the leader {rss_mib(a):.0f} MiB")
    assert samples(a.metrics_text(), "es_inference_operator_leader") == [("", 1.0)]

    # A stream of creates and deletions, and the leader killed in the middle of it.
    kube.apply(endpoints("second", 6))
    kube.run("delete", "iep", *names("first", 3), "--wait=false")
    wait_for("the leader to send its first create", lambda: write_counts(replicas.requests_by(A), "PUT").keys()
             & set(names("second", 6)), timeout=30)  # fmt: skip
    killed = time.monotonic()
    a.kill()
    # Created while nobody leads: the standby does not touch it (no finalizer, no status).
    kube.apply(endpoint_manifest("while-nobody-leads"))
    untouched = kube.get("while-nobody-leads")
    assert not untouched["metadata"].get("finalizers") and not untouched.get("status")

    last_standby, led = wait_leading(b, timeout=LEASE_DURATION + 10)
    takeover = led - killed
    print(f"kill -9: the standby led {takeover:.1f} s after the leader was killed")
    assert takeover <= 20.0
    assert all(entry.at > last_standby for entry in replicas.requests_by(B)), "the standby sent a request"
    assert replicas.holder() == b.readiness()["identity"]
    assert replicas.lease()["spec"]["leaseTransitions"] == 1

    # Nothing lost: every create done, every deletion done, in Elasticsearch too.
    kept = [*names("first", 6)[3:], *names("second", 6), "while-nobody-leads"]
    wait_all_ready(kube, kept, timeout=60)
    wait_all_gone(kube, names("first", 3), timeout=60)
    assert sorted(emulator.state.endpoints) == sorted(kept)
    # Nothing twice: one PUT per endpoint, one DELETE per deletion, whoever sent it.
    log = emulator.requests.timeline()
    assert write_counts(log, "PUT") == dict.fromkeys(kept + names("first", 3), 1)
    assert write_counts(log, "DELETE") == dict.fromkeys(names("first", 3), 1)
    assert samples(b.metrics_text(), "es_inference_operator_leader_transitions_total") == [("", 1.0)]


def test_sigterm_hands_over_in_about_the_retry_period(replicas: Replicas, kube: Kube, emulator: EmulatorServer) -> None:
    a = replicas.start(A)
    a.wait_leading(30)
    b = replicas.start(B)

    # A rolling update's step: the leader is stopped while it creates.
    kube.apply(endpoints("rolling", 8))
    wait_for("the leader to send a create", lambda: write_counts(replicas.requests_by(A), "PUT"), timeout=30)
    stopped = time.monotonic()
    a.terminate()
    _, led = wait_leading(b, timeout=LEASE_DURATION + 10)
    handover = led - stopped
    print(f"SIGTERM: the standby led {handover:.1f} s after the leader was asked to stop")
    assert a.wait_exit(30) == 0
    assert "released the Lease" in a.log_text()
    assert handover < LEASE_DURATION  # handed over, not expired

    wait_all_ready(kube, names("rolling", 8), timeout=60)
    log = emulator.requests.timeline()
    assert write_counts(log, "PUT") == dict.fromkeys(names("rolling", 8), 1)
    # One writer at a time: the old leader's last write came before the new leader's first.
    a_writes = [e.at for e in replicas.requests_by(A) if is_write(e)]
    b_writes = [e.at for e in replicas.requests_by(B) if is_write(e)]
    assert not a_writes or not b_writes or max(a_writes) < min(b_writes)


def test_a_leader_cut_off_from_the_api_server_stops_writing_by_its_renew_deadline_and_exits(
    replicas: Replicas, kube: Kube, emulator: EmulatorServer, tmp_path: Path
) -> None:
    api = replicas.cp.server.rsplit(":", 1)
    with TcpProxy("127.0.0.1", int(api[1])) as proxy:
        kubeconfig = admin_kubeconfig_via(replicas.cp, proxy.port, tmp_path / "via-proxy.kubeconfig")
        # One request at a time to a slow Elasticsearch: the leader has writes queued when it is cut off.
        a = replicas.start(A, kubeconfig=kubeconfig, ELASTICSEARCH_MAX_CONCURRENT_REQUESTS="1")
        a.wait_leading(30)
        b = replicas.start(B)
        emulator.faults.latency(0.5)
        count = 40
        kube.apply(endpoints("queued", count))
        wait_for("the leader's third create", lambda: sum(write_counts(replicas.requests_by(A), "PUT").values()) >= 3,
                 timeout=60)  # fmt: skip

        cut = proxy.cut()
        exit_code = a.wait_exit(RENEW_DEADLINE + STOP_GRACE + 5)
        exited = time.monotonic()
        assert exit_code == 1 and "lost the lease" in a.log_text()
        assert proxy.last_sent_up is not None
        # The fence: the leader's last renew went through the proxy before the cut, so its renew deadline is at
        # most (the last bytes it sent to the API server) + the renew deadline. A write checked just before the
        # deadline arrives a moment later: 0.2 s for that.
        deadline = proxy.last_sent_up + RENEW_DEADLINE
        a_writes = [e.at for e in replicas.requests_by(A) if is_write(e)]
        after_cut = [at for at in a_writes if at > cut]
        print(
            f"cut off: {len(after_cut)} writes after the cut, the last {max(a_writes) - cut:.1f} s after it; "
            f"renew deadline {deadline - cut:.1f} s after the cut; exited {exited - cut:.1f} s after it"
        )
        # It had creates still to send: cut off, it sent none of them after its deadline. (Each create also writes
        # to the API server before its Elasticsearch write, the intent of the ownership record, so a cut-off leader
        # usually stops at once; a write already past that step is refused after the deadline:
        # tests/reconciler/test_fencing.py.)
        pending = count - len([at for at in a_writes if at <= cut])
        assert pending > 0, "the leader had sent every create before it was cut off: the test proves nothing"
        assert max(a_writes) < deadline + 0.2

        emulator.faults.latency(0)
        _, led = wait_leading(b, timeout=LEASE_DURATION + 10)
        print(f"cut off: the other replica led {led - cut:.1f} s after the cut")
        assert led > deadline  # the Lease was taken only after the old leader had stopped writing
        wait_all_ready(kube, names("queued", count), timeout=90)
        log = emulator.requests.timeline()
        assert write_counts(log, "PUT") == dict.fromkeys(names("queued", count), 1)
