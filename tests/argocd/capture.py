"""Capture real InferenceEndpoint objects for the Argo CD health check's testdata.

    .venv/bin/python -m tests.argocd.capture [--out DIR] [--es-version 9.1.0]

Starts what the end-to-end tests start (a real kube-apiserver + etcd, the Elasticsearch emulator, the
operator as a process), drives each scenario through kubectl as a user would, and writes every object as
`kubectl get -o yaml --show-managed-fields` prints it (managedFields kept: that is what Argo CD sees) into
`resource_customizations/inference.es-operator.dev/InferenceEndpoint/testdata/`. It then writes
`health_test.yaml` next to it, in the layout Argo CD's `go test ./util/lua/` reads.

The expected health of each scenario is stated here from the operator's own conditions (for example "Degraded
with the Stalled condition's message"), independently of health.lua; `tests/argocd/test_health.py` then checks
health.lua against it. At the end this tool prints what health.lua says, for a quick look.

Scenarios, in three phases:
  Elasticsearch up: a Ready endpoint; a Secret not there yet; an unknown service (Elasticsearch refuses); an
  existing endpoint the resource did not create (AlreadyExists); one replaced behind the operator's back
  (ConfigurationMismatch); a second claim on an inference id (Conflict); a spec change Elasticsearch cannot make
  in place (NeedsRecreate); wrong credentials in an elasticsearchRef Secret; a deletion blocked by an ingest
  pipeline.
  Elasticsearch down: an endpoint created meanwhile; a Ready endpoint whose periodic check fails; a spec edited
  meanwhile (not applied: never Healthy); a deletion that waits for Elasticsearch.
  Operator stopped: a new object without status; a spec change not yet observed; a deletion not yet handled.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from es_emulator import EmulatorServer, User
from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, operator_env, wait_for
from tests.support import ES_USER, FAST_OPERATOR_SETTINGS, Kube, endpoint_manifest, pipeline_using, secret

from .lua_health import CHECK_DIR, REPO_ROOT, evaluate

NAMESPACE = "search"
WAIT = 30.0

Expectation = Callable[[dict[str, Any]], tuple[str, str]]


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found = next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None)
    if found is None:
        raise AssertionError(f"{obj['metadata']['name']} has no {type_} condition")
    return found


def healthy(obj: dict[str, Any]) -> tuple[str, str]:
    message = condition(obj, "Ready")["message"]
    synced = condition(obj, "Synced")
    if synced["status"] == "False":
        message += f"; last check failed: {synced['message']}"
    return "Healthy", message


def progressing(type_: str) -> Expectation:
    return lambda obj: ("Progressing", condition(obj, type_)["message"])


def degraded(type_: str) -> Expectation:
    return lambda obj: ("Degraded", condition(obj, type_)["message"])


def deletion_blocked(obj: dict[str, Any]) -> tuple[str, str]:
    return "Progressing", "deletion blocked: " + condition(obj, "DeletionBlocked")["message"]


def deletion_waiting(obj: dict[str, Any]) -> tuple[str, str]:
    return "Progressing", "deleting: " + condition(obj, "DeletionBlocked")["message"]


def deleting(obj: dict[str, Any]) -> tuple[str, str]:
    return "Progressing", "deleting"


def generation_not_observed(obj: dict[str, Any]) -> tuple[str, str]:
    return "Progressing", f"waiting for the operator to observe generation {obj['metadata']['generation']}"


@dataclass(frozen=True)
class Capture:
    file: str  # testdata/<file>.yaml
    name: str  # the InferenceEndpoint
    expect: Expectation


class Session:
    def __init__(self, cp: ControlPlane, es: EmulatorServer, out: Path) -> None:
        self.cp = cp
        self.es = es
        self.out = out
        self.kube = Kube(cp, NAMESPACE)
        self.written: list[tuple[Capture, dict[str, Any]]] = []

    def es_call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return es_request(self.es.url, method, path, body, auth=ES_USER)

    def capture(self, item: Capture) -> None:
        text = self.kube.run("get", "inferenceendpoint", item.name, "-o", "yaml", "--show-managed-fields").stdout
        (self.out / f"{item.file}.yaml").write_text(text)
        obj = yaml.safe_load(text)
        self.written.append((item, obj))
        print(f"captured {item.file}.yaml ({item.name}, resourceVersion {obj['metadata']['resourceVersion']})")

    def settled(self, name: str) -> None:
        """Wait until the object stops changing: the same resourceVersion over a few drift checks (2 s each)."""
        seen: list[str] = []

        def unchanged() -> bool:
            seen.append(self.kube.get(name)["metadata"]["resourceVersion"])
            return len(seen) >= 6 and len(set(seen[-6:])) == 1

        wait_for(f"{name}: no more writes", unchanged, timeout=30, interval=1.0)


def openai(name: str, secret_name: str = "openai-credentials", **spec: Any) -> dict[str, Any]:
    return endpoint_manifest(
        name,
        service="openai",
        serviceSettings={"model_id": "text-embedding-3-small"},
        serviceSettingsSecretRefs={"api_key": {"name": secret_name, "key": "api-key"}},
        **spec,
    )


def elser(name: str, **spec: Any) -> dict[str, Any]:
    return endpoint_manifest(name, **spec)


def phase_elasticsearch_up(s: Session) -> None:
    k = s.kube
    # The winner of the later Conflict goes first: claims are ordered by creationTimestamp (seconds).
    k.apply(elser("e5-primary", inferenceId="e5-shared"))
    k.apply(secret("openai-credentials", **{"api-key": "sk-not-a-real-key"}))
    k.apply(openai("openai-embeddings"))
    k.apply(openai("waiting-for-secret", secret_name="openai-credentials-new"))
    k.apply(endpoint_manifest("unknown-service", service="no-such-service", serviceSettings={"model_id": "x"}))
    existing = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ".multilingual-e5-small", "num_allocations": 3, "num_threads": 1},
    }
    status, body = s.es_call("PUT", "/_inference/text_embedding/existing-e5", existing)
    assert status == 200, body
    k.apply(elser("existing-e5"))
    k.apply(secret("other-cluster", url=s.es.url, username="elastic", password="not-the-password"))
    k.apply(elser("wrong-credentials", elasticsearchRef={"secretName": "other-cluster"}))
    ready = ("drifted", "replaced", "in-use", "edited-while-es-down", "es-down-deletion", "unhandled-deletion")
    for name in ready:
        k.apply(elser(name))

    for name in ("e5-primary", "openai-embeddings", *ready):
        k.wait_condition(name, "Ready", timeout=WAIT)
    created = k.get("e5-primary")["metadata"]["creationTimestamp"]
    wait_for(
        "a later second than e5-primary's creation",
        lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") > created,
        timeout=5,
    )
    k.apply(
        elser(
            "e5-secondary",
            inferenceId="e5-shared",
            serviceSettings={"model_id": ".multilingual-e5-small", "num_allocations": 2, "num_threads": 1},
        )
    )

    # The spec of "drifted" changes to another model, which Elasticsearch cannot change in place. (An endpoint
    # re-created behind the operator's back is no longer its own: that is ConfigurationMismatch, captured above.)
    k.apply(elser("drifted", serviceSettings={"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1}))

    # "replaced" is deleted and made again with another model behind the operator's back: no longer its own.
    s.es_call("DELETE", "/_inference/replaced")
    other_model = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1},
    }
    assert s.es_call("PUT", "/_inference/text_embedding/replaced", other_model)[0] == 200

    # An ingest pipeline uses "in-use"; then the resource is deleted.
    assert s.es_call("PUT", "/_ingest/pipeline/embed-articles", pipeline_using("in-use"))[0] == 200
    k.run("delete", "inferenceendpoint", "in-use", "--wait=false")

    k.wait_condition("waiting-for-secret", "Ready", "False", reason="ConfigurationError", timeout=WAIT)
    k.wait_condition("unknown-service", "Ready", "False", reason="ElasticsearchRejected", timeout=WAIT)
    k.wait_condition("existing-e5", "Ready", "False", reason="AlreadyExists", timeout=WAIT)
    k.wait_condition("replaced", "Ready", "False", reason="ConfigurationMismatch", timeout=WAIT)
    k.wait_condition("wrong-credentials", "Ready", "False", reason="ElasticsearchAuthFailed", timeout=WAIT)
    k.wait_condition("e5-secondary", "Conflict", timeout=WAIT)
    k.wait_condition("drifted", "Ready", "False", reason="NeedsRecreate", timeout=WAIT)
    k.wait_condition("in-use", "DeletionBlocked", timeout=WAIT)
    for name in ("openai-embeddings", "e5-primary"):
        s.settled(name)

    for item in (
        Capture("healthy", "openai-embeddings", healthy),
        Capture("progressing_secret_missing", "waiting-for-secret", progressing("Reconciling")),
        Capture("progressing_auth_failed", "wrong-credentials", progressing("Reconciling")),
        Capture("degraded_rejected", "unknown-service", degraded("Stalled")),
        Capture("degraded_already_exists", "existing-e5", degraded("Stalled")),
        Capture("degraded_configuration_mismatch", "replaced", degraded("Stalled")),
        Capture("degraded_needs_recreate", "drifted", degraded("Stalled")),
        Capture("degraded_conflict", "e5-secondary", degraded("Conflict")),
        Capture("deletion_blocked", "in-use", deletion_blocked),
    ):
        s.capture(item)


def phase_elasticsearch_down(s: Session) -> None:
    k = s.kube
    s.es.down()
    k.apply(elser("created-while-es-down"))
    k.apply(
        elser(
            "edited-while-es-down",
            serviceSettings={"model_id": ".multilingual-e5-small", "num_allocations": 2, "num_threads": 1},
        )
    )
    k.run("delete", "inferenceendpoint", "es-down-deletion", "--wait=false")

    k.wait_condition("created-while-es-down", "Ready", "False", reason="ElasticsearchUnavailable", timeout=WAIT)
    # The edit cannot be applied: Ready is False for the new generation, never Ready left over from the old one.
    k.wait_condition("edited-while-es-down", "Ready", "False", reason="ElasticsearchUnavailable", timeout=WAIT)
    k.wait_condition("es-down-deletion", "DeletionBlocked", "False", reason="ElasticsearchUnavailable", timeout=WAIT)
    # The periodic check (every 2 s here) of a Ready endpoint fails: Ready stays, Synced says why.
    k.wait_condition("openai-embeddings", "Synced", "False", reason="ElasticsearchUnavailable", timeout=WAIT)

    for item in (
        Capture("progressing_elasticsearch_unavailable", "created-while-es-down", progressing("Reconciling")),
        Capture("healthy_check_failing", "openai-embeddings", healthy),
        Capture("progressing_change_not_applied", "edited-while-es-down", progressing("Reconciling")),
        Capture("deleting_elasticsearch_unavailable", "es-down-deletion", deletion_waiting),
    ):
        s.capture(item)
    s.es.up()


def phase_operator_stopped(s: Session, operator: OperatorProcess) -> None:
    k = s.kube
    operator.stop()
    k.apply(elser("not-yet-reconciled"))
    # A spec change the operator has not seen yet: generation 2, status still about generation 1.
    k.apply(
        elser(
            "e5-primary",
            inferenceId="e5-shared",
            serviceSettings={"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 2},
        )
    )
    k.run("delete", "inferenceendpoint", "unhandled-deletion", "--wait=false")
    for item in (
        Capture("progressing_new", "not-yet-reconciled", generation_not_observed),
        Capture("progressing_generation_not_observed", "e5-primary", generation_not_observed),
        Capture("deleting", "unhandled-deletion", deleting),
    ):
        s.capture(item)


def write_health_test(s: Session) -> None:
    tests = []
    for item, obj in s.written:
        status, message = item.expect(obj)
        tests.append(
            {"healthStatus": {"status": status, "message": message}, "inputPath": f"testdata/{item.file}.yaml"}
        )
    text = (
        "# Generated by `python -m tests.argocd.capture` from objects the operator wrote; the expected health\n"
        "# of each is stated there from the object's conditions. Read by Argo CD's `go test ./util/lua/`.\n"
    )
    text += yaml.safe_dump({"tests": tests}, sort_keys=False, width=100000, allow_unicode=True)
    (s.out.parent / "health_test.yaml").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=CHECK_DIR / "testdata", help="the testdata folder")
    parser.add_argument("--es-version", default="9.1.0", help="the emulator's Elasticsearch version profile")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="argocd-capture-") as workdir,
        ControlPlane() as cp,
        EmulatorServer(version=args.es_version, security=True, users=[User(*ES_USER, roles=["superuser"])]) as es,
    ):
        cp.install_crds(REPO_ROOT / "crds")
        cp.kubectl("create", "namespace", NAMESPACE)
        env = operator_env(cp.env(), es_url=es.url, username=ES_USER[0], password=ES_USER[1], **FAST_OPERATOR_SETTINGS)
        operator = OperatorProcess(env=env, log_path=Path(workdir) / "operator.log", namespaces=(NAMESPACE,))
        session = Session(cp, es, out)
        try:
            with operator:
                phase_elasticsearch_up(session)
                phase_elasticsearch_down(session)
                phase_operator_stopped(session, operator)
        except (AssertionError, TimeoutError) as err:
            print(f"capture failed: {err}\n--- operator log ---\n{operator.log_tail(80)}", file=sys.stderr)
            return 1
    write_health_test(session)
    print(f"\nwrote {len(session.written)} objects to {out} in {time.monotonic() - started:.1f} s; health.lua says:")
    for item, obj in session.written:
        status, message = evaluate(obj)
        verdict = "ok" if (status, message) == item.expect(obj) else f"EXPECTED {item.expect(obj)}"
        print(f"  {item.file}: {status} ({message}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
