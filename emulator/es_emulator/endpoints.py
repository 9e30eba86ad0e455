"""Stored inference endpoints, the default (preconfigured) ones, and their JSON form (§1.6, §3.2, §4)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from .chunking import CHUNKING_TASK_TYPES, DEFAULT_CHUNKING_SETTINGS, OLD_DEFAULT_CHUNKING_SETTINGS
from .errors import bad_request
from .profiles import E5_DEFAULT_ID, ELSER_DEFAULT_ID, RERANK_DEFAULT_ID, Profile

# §3.3: MlStrings id pattern. "_all" is refused separately.
ID_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_\-\.]*[a-z0-9])?")

ANY = "any"


@dataclass
class Endpoint:
    """One inference endpoint as Elasticsearch stores it (config and secrets documents)."""

    inference_id: str
    task_type: str
    service: str
    service_settings: dict[str, Any]
    task_settings: dict[str, Any] = field(default_factory=dict)
    chunking_settings: dict[str, Any] | None = None
    # Secret settings (``api_key`` ...): kept in the secrets document, never rendered.
    secrets: dict[str, Any] = field(default_factory=dict)
    # False marks a stored config that cannot be parsed any more (§1.2 step 6); tests set it directly.
    parsable: bool = True
    is_default: bool = False

    def to_json(self, profile: Profile) -> dict[str, Any]:
        """``ModelConfigurations.toFilteredXContent``: secrets left out, empty task_settings omitted (8.16+)."""
        body: dict[str, Any] = {}
        if profile.emits_model_id:
            body["model_id"] = self.inference_id  # 8.15.0 wrote both keys (§3.2)
        body["inference_id"] = self.inference_id
        body["task_type"] = self.task_type
        body["service"] = self.service
        body["service_settings"] = copy.deepcopy(self.service_settings)
        if self.task_settings or profile.emits_empty_task_settings:
            body["task_settings"] = copy.deepcopy(self.task_settings)  # {} up to 8.15 (§10.4)
        if self.chunking_settings is not None:
            body["chunking_settings"] = copy.deepcopy(self.chunking_settings)
        elif profile.default_chunking_settings and self.task_type in CHUNKING_TASK_TYPES:
            # Stored before 8.16 (tests set chunking_settings to None): shown with the old default (§10.1).
            body["chunking_settings"] = dict(OLD_DEFAULT_CHUNKING_SETTINGS)
        return body


def parse_task_type(raw: str, profile: Profile) -> str:
    """TaskType.fromStringOrStatusException: trimmed, case-insensitive; ``any`` is a valid value."""
    value = raw.strip().lower()
    if value != ANY and value not in profile.task_types:
        raise bad_request(f"Unknown task_type [{raw}]")
    return value


def valid_inference_id(inference_id: str) -> bool:
    return inference_id != "_all" and ID_PATTERN.fullmatch(inference_id) is not None


_ADAPTIVE = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}

# §1.6: id -> (task type, model_id, task_settings). All use the in-cluster "elasticsearch" service with one
# thread and adaptive allocations.
_DEFAULTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    ELSER_DEFAULT_ID: ("sparse_embedding", ".elser_model_2", {}),
    E5_DEFAULT_ID: ("text_embedding", ".multilingual-e5-small", {}),
    RERANK_DEFAULT_ID: ("rerank", ".rerank-v1", {"return_documents": True}),
}


def default_endpoint(inference_id: str, profile: Profile) -> Endpoint | None:
    """The profile's default endpoint with this id, or None. Defaults are always found (§1.2 step 1)."""
    if inference_id not in profile.default_endpoint_ids:
        return None
    task_type, model_id, task_settings = _DEFAULTS[inference_id]
    chunking = None
    if task_type != "rerank" and profile.default_chunking_settings:
        chunking = dict(DEFAULT_CHUNKING_SETTINGS)
    return Endpoint(
        inference_id=inference_id,
        task_type=task_type,
        service="elasticsearch",
        service_settings={"num_threads": 1, "model_id": model_id, "adaptive_allocations": dict(_ADAPTIVE)},
        task_settings=dict(task_settings),
        chunking_settings=chunking,
        is_default=True,
    )


def default_endpoints(profile: Profile) -> list[Endpoint]:
    return [e for i in profile.default_endpoint_ids if (e := default_endpoint(i, profile)) is not None]
