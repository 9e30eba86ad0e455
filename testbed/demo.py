"""`make demo`: the operator's main job, end to end, on a local control plane and the Elasticsearch emulator.

The story, through kubectl as a person types it:
  apply an endpoint and see it Ready; create an ingest pipeline that uses it; delete the resource and see the
  deletion blocked, with the pipeline named; add the force annotation and see it gone.
Exits 0 only when every step holds.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from elasticsearch import Elasticsearch

from es_emulator import EmulatorServer, User
from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, operator_env, repo_root, wait_for

NAMESPACE = "demo"
NAME = "openai-embeddings"
ES_USER = ("elastic", "changeme")


class StoryBroken(Exception):
    pass


def say(text: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}==> {text}{plain}", flush=True)


def kubectl(cp: ControlPlane, *args: str, show: bool = True) -> str:
    if show:
        print(f"$ kubectl {' '.join(args)}", flush=True)
    result = cp.kubectl(*args, check=False, timeout=120)
    output = (result.stdout + result.stderr).rstrip()
    if show and output:
        print(output, flush=True)
    if result.returncode != 0:
        raise StoryBroken(f"kubectl {' '.join(args)} failed")
    return result.stdout


def condition(cp: ControlPlane, type_: str) -> dict[str, str] | None:
    import json

    obj = json.loads(kubectl(cp, "-n", NAMESPACE, "get", "iep", NAME, "-o", "json", show=False))
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None)


def play(cp: ControlPlane, es: EmulatorServer, client: Elasticsearch) -> None:
    example = repo_root() / "examples" / "openai-embeddings.yaml"

    say(f"1. Apply an InferenceEndpoint ({example.relative_to(repo_root())}) and wait for Ready")
    started = time.monotonic()
    kubectl(cp, "-n", NAMESPACE, "apply", "-f", str(example))
    kubectl(cp, "-n", NAMESPACE, "wait", f"iep/{NAME}", "--for=condition=Ready", "--timeout=60s")
    print(f"(Ready {time.monotonic() - started:.1f} s after apply)")
    kubectl(cp, "-n", NAMESPACE, "get", "iep")
    endpoint = client.inference.get(inference_id=NAME)["endpoints"][0]
    print(
        f"Elasticsearch has it: {endpoint['inference_id']} ({endpoint['task_type']}, {endpoint['service']}, "
        f"model {endpoint['service_settings']['model_id']})"
    )

    say("2. An ingest pipeline starts using the endpoint")
    client.ingest.put_pipeline(
        id="embed-articles",
        description="embeds article bodies",
        processors=[{"inference": {"model_id": NAME, "input_output": {"input_field": "body", "output_field": "v"}}}],
    )
    print("PUT _ingest/pipeline/embed-articles  (inference processor, model_id: openai-embeddings)")

    say("3. Delete the resource: the operator's dry run finds the pipeline and blocks the deletion")
    kubectl(cp, "-n", NAMESPACE, "delete", "iep", NAME, "--wait=false")

    def blocked_condition() -> dict[str, str] | None:
        found = condition(cp, "DeletionBlocked")
        return found if found and found["status"] == "True" else None

    blocked = wait_for("DeletionBlocked=True", blocked_condition, timeout=30)
    kubectl(cp, "-n", NAMESPACE, "get", "iep")
    print(f"DeletionBlocked: {blocked['message']}")
    if "embed-articles" not in blocked["message"]:
        raise StoryBroken("the blocked deletion does not name the pipeline")
    kubectl(cp, "-n", NAMESPACE, "get", "events", "--field-selector", f"involvedObject.name={NAME},type=Warning")
    if not client.inference.get(inference_id=NAME)["endpoints"]:
        raise StoryBroken("the endpoint is gone although a pipeline uses it")
    print("The endpoint is still in Elasticsearch, and the resource waits with its finalizer.")

    say("4. Force it: the annotation lets the deletion through (Elasticsearch's force=true)")
    started = time.monotonic()
    kubectl(cp, "-n", NAMESPACE, "annotate", "iep", NAME, "inference.es-operator.dev/force=true")
    kubectl(cp, "-n", NAMESPACE, "wait", f"iep/{NAME}", "--for=delete", "--timeout=30s")
    print(f"(gone {time.monotonic() - started:.2f} s after the annotation)")
    kubectl(cp, "-n", NAMESPACE, "get", "iep")
    if es.state.endpoint(NAME) is not None:
        raise StoryBroken("the resource is gone but the endpoint is still in Elasticsearch")
    print("Elasticsearch no longer has the endpoint; the pipeline now points at a missing one, as forced.")


def main() -> int:
    version = os.environ.get("DEMO_ES_VERSION", "9.1.0")
    say("Starting a local Kubernetes control plane (kube-apiserver + etcd) and an Elasticsearch emulator")
    with (
        tempfile.TemporaryDirectory(prefix="es-operator-demo-") as workdir,
        ControlPlane() as cp,
        EmulatorServer(version=version, security=True, users=[User(*ES_USER, roles=["superuser"])]) as es,
    ):
        print(f"kube-apiserver at {cp.server}; Elasticsearch emulator {version} at {es.url}")
        cp.install_crds(repo_root() / "crds")
        kubectl(cp, "create", "namespace", NAMESPACE)
        env = operator_env(cp.env(), es_url=es.url, username=ES_USER[0], password=ES_USER[1])
        operator = OperatorProcess(env=env, log_path=Path(workdir) / "operator.log", namespaces=(NAMESPACE,))
        say("Starting the operator (python -m es_inference_operator)")
        client = Elasticsearch(es.url, basic_auth=ES_USER)
        try:
            with operator:
                play(cp, es, client)
        except (StoryBroken, TimeoutError) as err:
            print(f"\nThe story broke: {err}\n--- operator log ---\n{operator.log_tail(80)}", file=sys.stderr)
            return 1
        finally:
            client.close()
    say("The story holds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
