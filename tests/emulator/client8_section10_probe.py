"""Run by the §10 tests with the 8.x client on PYTHONPATH: chunking settings refused and echoed (§10.1), the
cluster uuid (§10.3), the list APIs (§10.4).

Prints one JSON object with what it saw.
"""

from __future__ import annotations

import json
import sys

from elasticsearch import BadRequestError, Elasticsearch


def main(url: str) -> None:
    es = Elasticsearch(url, basic_auth=("elastic", "changeme"), max_retries=0, request_timeout=5)
    service = {"service": "openai", "service_settings": {"api_key": "sk", "model_id": "m"}}
    seen: dict[str, object] = {}
    for name, chunking in (
        ("negative", {"strategy": "word", "max_chunk_size": -5, "overlap": 1}),
        ("text", {"strategy": "word", "max_chunk_size": "big", "overlap": 1}),
        ("paragraph", {"strategy": "paragraph", "max_chunk_size": 100}),
    ):
        try:
            es.inference.put(
                inference_id=name,
                task_type="text_embedding",
                inference_config={**service, "chunking_settings": chunking},
            )
            seen[name] = "accepted"
        except BadRequestError as err:
            seen[name] = [err.message, err.body["error"]["reason"]]
    es.inference.put(
        inference_id="partial",
        task_type="text_embedding",
        inference_config={**service, "chunking_settings": {"strategy": "sentence", "max_chunk_size": 100}},
    )
    seen["echo"] = es.inference.get(inference_id="partial")["endpoints"][0]["chunking_settings"]
    seen["cluster_uuid"] = es.info()["cluster_uuid"]
    seen["all"] = [e["inference_id"] for e in es.inference.get()["endpoints"]]
    seen["sparse"] = [
        e["inference_id"] for e in es.inference.get(task_type="sparse_embedding", inference_id="*")["endpoints"]
    ]
    seen["rerank"] = [e["inference_id"] for e in es.inference.get(task_type="rerank", inference_id="_all")["endpoints"]]
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
