"""The operator's first act on a new generation is a status with observedGeneration and Reconciling=True, so that
kstatus (and so `kubectl wait`, Flux and anything built on kstatus) says InProgress, not Current, while
Elasticsearch has not answered yet. Elasticsearch's answer is held by the emulator (faults.hold) to make the
moment last; every version of the object the API server sends is watched, so that the first status written is
the one checked, not whichever a poll happens to see."""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest

from .statuscheck import check

NAME = "first-status"
WAIT = 30.0


class Watch:
    """`kubectl get -w -o json` on one InferenceEndpoint: every version the API server sends, in order."""

    def __init__(self, kube: Kube, name: str) -> None:
        cmd = [
            str(kube.cp.kubectl_path),
            f"--kubeconfig={kube.cp.kubeconfig}",
            "-n",
            kube.namespace,
            "get",
            "inferenceendpoints",
            f"--field-selector=metadata.name={name}",
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.text = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.lock:
                self.text += line

    def versions(self) -> list[dict[str, Any]]:
        with self.lock:
            text = self.text.strip()
        decoder, objects, pos = json.JSONDecoder(), [], 0
        while pos < len(text):
            try:
                event, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError:
                break  # an event still being written
            if event.get("type") in ("ADDED", "MODIFIED"):
                objects.append(event["object"])
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
        return objects

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.reader.join(10)


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def first_status_about(watch: Watch, generation: int) -> dict[str, Any]:
    """The first version whose status speaks about `generation` (the operator's first write for it)."""

    def found() -> dict[str, Any] | None:
        return next(
            (
                obj
                for obj in watch.versions()
                if obj["metadata"]["generation"] == generation
                and obj.get("status", {}).get("conditions")
                and obj["status"].get("observedGeneration", generation) == generation
            ),
            None,
        )

    return wait_for(f"a status written for generation {generation}", found, timeout=WAIT, interval=0.1)


def test_the_first_status_of_each_generation_is_reconciling_and_kstatus_says_in_progress(
    stack: Stack, kube: Kube
) -> None:
    watch = Watch(kube, NAME)
    try:
        # Creation: Elasticsearch holds its answer to the PUT that creates the endpoint.
        create = stack.es.faults.hold("PUT", rf"/_inference/text_embedding/{NAME}")
        kube.apply(endpoint_manifest(NAME))
        assert create.wait_held(WAIT), "the operator never sent the PUT"
        first = first_status_about(watch, 1)
        assert create.state == "held", "the answer came before the status was read"
        observed = (first["status"].get("observedGeneration"), conditions(first).get("Reconciling", {}).get("status"))
        assert observed == (1, "True"), first["status"]
        (report,) = check(first)
        assert (report.kstatus.status, report.flux.status, report.argocd.status) == (
            "InProgress",
            "InProgress",
            "Progressing",
        ), report
        create.release()
        kube.wait_condition(NAME, "Ready", timeout=WAIT)
        wait_for(
            "Reconciling gone",
            lambda: conditions(kube.get(NAME)).get("Reconciling", {}).get("status") != "True",
            timeout=WAIT,
        )
        (report,) = check(kube.get(NAME))
        assert (report.kstatus.status, report.flux.status, report.argocd.status) == ("Current", "Current", "Healthy")

        # A new generation that Elasticsearch updates in place: its answer to the update is held.
        update = stack.es.faults.hold("PUT", rf"/_inference/text_embedding/{NAME}/_update")
        settings = {"model_id": ".multilingual-e5-small", "num_allocations": 2, "num_threads": 1}
        kube.apply(endpoint_manifest(NAME, serviceSettings=settings))
        assert update.wait_held(WAIT), "the operator never sent the update"
        first = first_status_about(watch, 2)
        assert update.state == "held", "the answer came before the status was read"
        observed = (first["status"].get("observedGeneration"), conditions(first).get("Reconciling", {}).get("status"))
        assert observed == (2, "True"), first["status"]
        (report,) = check(first)
        assert (report.kstatus.status, report.flux.status) == ("InProgress", "InProgress"), report
        update.release()
        wait_for(
            "generation 2 Ready and no longer reconciling",
            lambda: (lambda c: c["Ready"]["status"] == "True" and c.get("Reconciling", {}).get("status") != "True")(
                conditions(kube.get(NAME))
            ),
            timeout=WAIT,
        )
    finally:
        watch.stop()
        stack.es.faults.clear_holds()

    versions = watch.versions()
    # Before the operator's first status write: kstatus reads Current (nothing to go on), which is why docs/flux.md
    # gives Flux its own expressions. They say InProgress until the finalizer is there; from the finalizer to the
    # first status, Flux's evaluator cannot tell (no has() for a top-level field): an error, which Flux reports
    # as Unknown and polls again, as docs/flux.md says.
    without_status = [obj for obj in versions if not obj.get("status")]
    assert without_status, "the watch missed the object as created"
    for obj, report in zip(without_status, check(*without_status, strict=False), strict=True):
        assert report.kstatus.status == "Current"
        assert report.argocd.status == "Progressing"
        if obj["metadata"].get("finalizers"):
            assert "no such attribute" in report.flux.error, report.flux
        else:
            assert report.flux.status == "InProgress" and not report.flux.error, report.flux

    # Of all the versions with a status, kstatus read Current only where the endpoint was Ready for that very
    # generation.
    with_status = [obj for obj in versions if obj.get("status", {}).get("conditions")]
    for obj, report in zip(with_status, check(*with_status), strict=True):
        if report.kstatus.status == "Current":
            assert conditions(obj)["Ready"]["status"] == "True", obj["status"]
            assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"], obj["status"]
