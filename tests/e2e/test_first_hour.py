"""A newcomer's mistakes, and what the operator says about each where they look: its first log lines, and
`kubectl get`/`describe` of the resource (issue 19).

* the operator checks its default Elasticsearch at startup and says in one line whether it is reachable, and if
  not, why (which credentials were refused); it goes on either way;
* an Elasticsearch that refuses a Secret's credentials: the status names the kind (API key, or username and
  password) and the Secret;
* a connection Secret with both an API key and a username: refused, saying which to remove;
* a Secret without the key the operator needs: the message lists the keys it has (names, never values);
* `examples/eck.yaml` on a cluster without ECK: the status says ECK's CRD is not installed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.controlplane import REPO_ROOT, ControlPlane
from testbed.stack import wait_for
from tests.support import ES_USER, Kube, Stack, endpoint_manifest, secret

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def es_version() -> str:
    return "9.1.0"  # what is said does not depend on the version


def log_line(stack: Stack, words: str, timeout: float = 20) -> str:
    """The operator's log line that contains `words` (waited for, bounded)."""
    assert stack.operator is not None

    def find() -> str | None:
        return next((line for line in stack.operator.log_text().splitlines() if words in line), None)  # type: ignore[union-attr]

    return wait_for(f"the operator to log {words!r}", find, timeout=timeout)


def test_startup_says_the_default_elasticsearch_is_reachable(stack: Stack) -> None:
    line = log_line(stack, "is reachable")
    assert f"Elasticsearch at {stack.es.url} (the operator's default) is reachable: version 9.1.0" in line
    assert f"(uuid {stack.es.cluster_uuid})" in line
    assert "logged in with the username and password (user 'elastic') from the operator's default" in line


def test_startup_with_a_wrong_password_says_so_and_goes_on(stack: Stack, kube: Kube) -> None:
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(ELASTICSEARCH_PASSWORD="not-the-password")
    line = log_line(stack, "The operator goes on")
    assert (
        f"Elasticsearch at {stack.es.url} (the operator's default) refused the username and password (user "
        f"'elastic') from the operator's default (ELASTICSEARCH_USERNAME, ELASTICSEARCH_PASSWORD) (401)"
    ) in line
    assert "not-the-password" not in stack.operator.log_text()  # type: ignore[union-attr]

    # It runs on: a resource says the same in its status.
    kube.apply(endpoint_manifest("e5"))
    failing = kube.wait_condition("e5", "Ready", "False", reason="ElasticsearchAuthFailed", timeout=30)
    assert "refused the username and password (user 'elastic') from the operator's default" in failing["message"]


def test_startup_with_elasticsearch_unreachable_says_so_and_goes_on(stack: Stack, kube: Kube) -> None:
    from testbed.stack import free_port

    assert stack.operator is not None
    stack.operator.stop()
    url = f"http://127.0.0.1:{free_port()}"
    stack.start_operator(ELASTICSEARCH_URL=url)
    line = log_line(stack, "The operator goes on")
    assert f"Elasticsearch at {url} (the operator's default): unreachable (" in line
    assert stack.operator.process is not None and stack.operator.process.poll() is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("credentials", "says"),
    [
        (
            {"username": "elastic", "password": "wrong"},
            "refused the username and password (user 'elastic') from Secret",
        ),
        ({"api-key": "aWQ6d3Jvbmc="}, "refused the API key from Secret"),
    ],
    ids=["password", "api-key"],
)
def test_refused_credentials_in_status_name_their_kind_and_secret(
    stack: Stack, kube: Kube, credentials: dict[str, str], says: str
) -> None:
    kube.apply(secret("es", url=stack.es.url, **credentials))
    kube.apply(endpoint_manifest("e5", elasticsearchRef={"secretName": "es"}))
    failing = kube.wait_condition("e5", "Ready", "False", reason="ElasticsearchAuthFailed", timeout=30)
    assert (
        f"Elasticsearch at {stack.es.url} (Secret {kube.namespace}/es) {says} {kube.namespace}/es (401)"
        in (failing["message"])
    )
    described = kube.run("describe", "iep", "e5").stdout
    assert f"{says} {kube.namespace}/es" in " ".join(described.split())
    secrets = [v for k, v in credentials.items() if k != "username"]
    assert not [v for v in secrets if v in json.dumps(kube.get("e5")["status"])]


def test_credentials_refused_on_a_ready_endpoint_are_an_event(stack: Stack, kube: Kube) -> None:
    """The endpoint stays Ready (it is still there), Synced says the credentials were refused, and one Warning
    Event says so, naming the kind of credentials and the Secret (kubectl describe shows it)."""
    kube.apply(secret("es", url=stack.es.url, username=ES_USER[0], password=ES_USER[1]))
    kube.apply(endpoint_manifest("e5", elasticsearchRef={"secretName": "es"}))
    kube.wait_condition("e5", "Ready", timeout=30)
    kube.apply(secret("es", url=stack.es.url, username=ES_USER[0], password="rotated-elsewhere"))
    kube.wait_condition("e5", "Synced", "False", reason="ElasticsearchAuthFailed", timeout=30)
    assert kube.get("e5")["status"]["conditions"][0]["status"] == "True"  # Ready: the endpoint is still there

    def refused_event() -> dict[str, Any] | None:
        found = [e for e in kube.events("e5") if e["reason"] == "ElasticsearchAuthFailed"]
        return found[0] if found else None

    event = wait_for("the ElasticsearchAuthFailed Event", refused_event, timeout=10)
    assert event["type"] == "Warning"
    assert f"the username and password (user 'elastic') from Secret {kube.namespace}/es" in event["message"]
    assert "rotated-elsewhere" not in event["message"]


def test_a_connection_secret_with_both_kinds_of_credentials_is_refused(stack: Stack, kube: Kube) -> None:
    """Refused with words that say which to remove; once removed, Ready within seconds: a Secret's contents wait
    for a person's fix like a missing Secret does (looked at again within 5 s), not with a failure's backoff
    (here up to two minutes) nor at the drift check's pace (here a minute)."""
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_RESYNC_SECONDS="60", OPERATOR_RETRY_CAP_SECONDS="120")
    kube.apply(secret("es", url=stack.es.url, username=ES_USER[0], password=ES_USER[1], **{"api-key": "aWQ6a2V5"}))
    kube.apply(endpoint_manifest("e5", elasticsearchRef={"secretName": "es"}))
    refused = kube.wait_condition("e5", "Ready", "False", reason="ConfigurationError", timeout=30)
    assert refused["message"].startswith(
        f"Secret {kube.namespace}/es has both api-key and username/password: give one kind of credentials. Remove "
        f"api-key to log in as 'elastic' with the password, or remove username and password to use the API key"
    )
    assert "(checked again within 5 s)" in refused["message"]
    assert not stack.es.requests.find("PUT"), "nothing is sent with ambiguous credentials"
    stack.wait_for_reconciles(6, timeout=60)  # a failure's backoff would be 16 s or more by now

    # The user removes the API key, as the message says: the resource becomes Ready.
    started = time.monotonic()
    kube.apply(secret("es", url=stack.es.url, username=ES_USER[0], password=ES_USER[1]))
    kube.wait_condition("e5", "Ready", timeout=10)
    print(f"API key removed -> Ready: {time.monotonic() - started:.1f} s")


def test_a_missing_key_lists_the_keys_the_secret_has(stack: Stack, kube: Kube) -> None:
    kube.apply(secret("es", uri=stack.es.url, username=ES_USER[0], password=ES_USER[1]))
    kube.apply(endpoint_manifest("e5", elasticsearchRef={"secretName": "es"}))
    refused = kube.wait_condition("e5", "Ready", "False", reason="ConfigurationError", timeout=30)
    assert refused["message"].startswith(
        f"Secret {kube.namespace}/es has no key 'url' (its keys: password, uri, username)"
    )
    assert "(checked again within" in refused["message"]
    assert ES_USER[1] not in refused["message"]

    # The user renames the key: picked up at the next look.
    kube.apply(secret("es", url=stack.es.url, username=ES_USER[0], password=ES_USER[1]))
    kube.wait_condition("e5", "Ready", timeout=30)


# --------------------------------------------------------------------------------------------------------
# A cluster without ECK: a control plane of its own (the session's may have ECK's CRD from tests/e2e/test_eck.py)


@pytest.fixture(scope="module")
def without_eck() -> Iterator[ControlPlane]:
    with ControlPlane() as cp:
        cp.install_crds(REPO_ROOT / "crds")
        yield cp


@pytest.fixture
def bare_stack(without_eck: ControlPlane, emulator: EmulatorServer, tmp_path: Path) -> Iterator[Stack]:
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    without_eck.kubectl("create", "namespace", namespace)
    stack = Stack(without_eck, namespace, emulator, tmp_path)
    stack.start_operator()
    yield stack
    if stack.operator is not None:
        stack.operator.stop()


def test_the_eck_example_without_eck_says_ecks_crd_is_not_installed(bare_stack: Stack) -> None:
    kube = Kube(bare_stack.cp, bare_stack.namespace)
    kube.run("apply", "-f", str(REPO_ROOT / "examples" / "eck.yaml"))
    for name, es in (("e5-on-quickstart", f"{kube.namespace}/quickstart"), ("elser-on-shared", "search/shared")):
        waiting = kube.wait_condition(name, "Ready", "False", reason="ElasticsearchNotReady", timeout=30)
        assert waiting["message"].startswith(
            f"ECK's Elasticsearch CRD (elasticsearches.elasticsearch.k8s.elastic.co) is not installed in this "
            f"cluster, so there is no Elasticsearch {es}: install ECK"
        ), waiting["message"]
        assert "does not exist (yet)" not in waiting["message"]
    # The resource goes without waiting for an ECK that is not there: it never created anything.
    kube.run("delete", "-f", str(REPO_ROOT / "examples" / "eck.yaml"), "--wait=false")
    kube.wait_gone("e5-on-quickstart", timeout=30)
    kube.wait_gone("elser-on-shared", timeout=30)
