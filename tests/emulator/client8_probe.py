"""Run by test_client8 with the 8.x client on PYTHONPATH: the operator's calls against one emulator URL.

Prints one JSON object with what it saw.
"""

from __future__ import annotations

import json
import sys

import elasticsearch
from elasticsearch import ConflictError, Elasticsearch


def main(url: str) -> None:
    es = Elasticsearch(url, basic_auth=("elastic", "changeme"), max_retries=0, request_timeout=5)
    version: str = elasticsearch.__versionstr__  # type: ignore[attr-defined]
    seen: dict[str, object] = {"client": version, "server": es.info()["version"]["number"]}
    es.inference.put(
        inference_id="probe",
        task_type="text_embedding",
        inference_config={"service": "openai", "service_settings": {"api_key": "sk", "model_id": "m"}},
    )
    seen["get"] = [e["inference_id"] for e in es.inference.get(inference_id="probe")["endpoints"]]
    es.ingest.put_pipeline(id="probe-pipeline", processors=[{"inference": {"model_id": "probe"}}])
    try:
        es.inference.delete(inference_id="probe")
    except ConflictError as err:
        seen["conflict"] = str(err)
    seen["dry_run"] = es.inference.delete(inference_id="probe", dry_run=True).body
    seen["force"] = es.inference.delete(inference_id="probe", force=True).body
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
