"""The emulator's cluster state: endpoints, pipelines, indexes, ML deployments.

Handlers run on the server's event loop thread while tests read the store from theirs, so every access goes
through ``lock`` (an RLock; ``with srv.state.lock:`` gives a consistent snapshot).
"""

from __future__ import annotations

import threading
from typing import Any

from .endpoints import Endpoint, default_endpoint, default_endpoints
from .indices import Index
from .profiles import Profile
from .references import indexes_referencing, pipelines_referencing

# ModelRegistry's searches use setSize(10_000) (§10.4).
REGISTRY_SEARCH_SIZE = 10_000


class Store:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.lock = threading.RLock()
        # User-created endpoints. Default endpoints are virtual: always found, never stored (§1.6).
        self.endpoints: dict[str, Endpoint] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.indexes: dict[str, Index] = {}
        # Trained-model deployments started for in-cluster endpoints (deployment id = endpoint id, §1.2 step 7).
        self.deployments: set[str] = set()
        # Test hook: endpoint ids whose deployment stop "returns false" (§1.2 step 7, 500 on delete).
        self.stop_failures: set[str] = set()

    def reset(self) -> None:
        """Forget everything (tests isolate state with this)."""
        with self.lock:
            self.endpoints.clear()
            self.pipelines.clear()
            self.indexes.clear()
            self.deployments.clear()
            self.stop_failures.clear()

    # --- endpoints -------------------------------------------------------------------------------------

    def endpoint(self, inference_id: str) -> Endpoint | None:
        """The endpoint a GET would find (stored, or a default of this version), or None."""
        return self.find_endpoint(inference_id)

    def secret_settings(self, inference_id: str) -> dict[str, Any]:
        """The secrets stored for an endpoint (``{"api_key": ...}``); {} when none. Never served over HTTP."""
        with self.lock:
            found = self.endpoints.get(inference_id)
            return dict(found.secrets) if found is not None else {}

    def find_endpoint(self, inference_id: str) -> Endpoint | None:
        with self.lock:
            found = self.endpoints.get(inference_id)
        return found if found is not None else default_endpoint(inference_id, self.profile)

    def all_endpoints(self, task_type: str | None = None) -> list[Endpoint]:
        """Stored and default endpoints (of ``task_type`` when given), sorted by inference_id (§4, §10.4).

        The registry reads stored endpoints with one search of size 10,000, so more are silently cut; which
        ones upstream is unspecified: here the first by id.
        """
        with self.lock:
            stored = [e for e in self.endpoints.values() if task_type in (None, e.task_type)]
        stored.sort(key=lambda e: e.inference_id)
        merged = {e.inference_id: e for e in default_endpoints(self.profile) if task_type in (None, e.task_type)}
        merged.update((e.inference_id, e) for e in stored[:REGISTRY_SEARCH_SIZE])
        return [merged[k] for k in sorted(merged)]

    def is_default(self, inference_id: str) -> bool:
        return inference_id in self.profile.default_endpoint_ids

    def put_endpoint(self, endpoint: Endpoint) -> bool:
        """Store a new endpoint; False if the id is taken."""
        with self.lock:
            if endpoint.inference_id in self.endpoints:
                return False
            self.endpoints[endpoint.inference_id] = endpoint
            return True

    def replace_endpoint(self, endpoint: Endpoint) -> None:
        with self.lock:
            self.endpoints[endpoint.inference_id] = endpoint

    def delete_endpoint(self, inference_id: str) -> None:
        with self.lock:
            self.endpoints.pop(inference_id, None)

    # --- references (§2.3) ---------------------------------------------------------------------------

    def pipelines_referencing(self, inference_id: str) -> set[str]:
        with self.lock:
            return pipelines_referencing(self.pipelines, inference_id)

    def indexes_referencing(self, inference_id: str) -> set[str]:
        with self.lock:
            fields = {name: index.semantic_fields for name, index in self.indexes.items()}
        return indexes_referencing(fields, inference_id, check_search_id=self.profile.search_inference_id_check)
