"""A small inference service catalogue and its request parsing (reference §3.1-§3.4).

Parsing follows the order of the upstream services' ``parseRequestConfig``: ``service_settings`` is taken
out of the body first (``Missing required field [service_settings]``), then the task type is checked against
the service, then the settings are validated (missing / invalid values, as one ``validation_exception``
for the public settings and then one for the secrets), and only then are leftover keys reported as
unknown, first at the top level, then in ``service_settings``, then in ``task_settings``. The reference's
table lists "unknown keys" before "missing setting" but says the order is only rough; the upstream code
validates first.

Nothing is ever validated by calling a provider (the emulator has no external services, §"Related
upstream facts"), so provider-derived values such as ``dimensions`` or ``similarity`` are only present when
the request sent them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .chunking import CHUNKING_TASK_TYPES, check_elser_chunk_size, parse_chunking_settings
from .errors import EsError, bad_request, illegal_argument, java_map, status_exception, validation_failed
from .profiles import Profile

SERVICE_SETTINGS = "service_settings"
TASK_SETTINGS = "task_settings"
CHUNKING_SETTINGS = "chunking_settings"


# Output order of the in-cluster settings (ElasticsearchInternalServiceSettings.addInternalSettingsToXContent).
IN_CLUSTER_SETTINGS = ("num_allocations", "num_threads", "model_id", "adaptive_allocations", "deployment_id")


@dataclass(frozen=True)
class Service:
    """What one inference service accepts, and the defaults it adds."""

    name: str
    task_types: tuple[str, ...]
    # Public service_settings keys in response order; ``rate_limit`` is added by the service when absent.
    settings: tuple[str, ...]
    required: tuple[str, ...] = ()
    # Settings only valid for text_embedding (similarity, dimensions, ...).
    embedding_only: frozenset[str] = frozenset()
    # Secret service_settings: stored, never echoed (§3.2).
    secrets: tuple[str, ...] = ()
    task_settings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Default rate_limit.requests_per_minute per task type (the providers' documented defaults).
    rate_limits: Mapping[str, int] = field(default_factory=dict)
    in_cluster: bool = False
    # elser: the model_id used when the request omits it. The upstream default is ".elser_model_2" or its
    # "_linux-x86_64" variant by platform; the emulator always uses the platform-agnostic one.
    default_model_id: str | None = None

    def supports(self, task_type: str) -> bool:
        return task_type in self.task_types


def _third_party(
    name: str,
    task_types: tuple[str, ...],
    settings: tuple[str, ...],
    *,
    required: tuple[str, ...],
    rate_limits: Mapping[str, int],
    task_settings: Mapping[str, tuple[str, ...]] | None = None,
    embedding_only: frozenset[str] = frozenset({"similarity", "dimensions"}),
) -> Service:
    return Service(
        name=name,
        task_types=task_types,
        settings=(*settings, "rate_limit"),
        required=required,
        embedding_only=embedding_only,
        secrets=("api_key",),
        task_settings=task_settings or {},
        rate_limits=rate_limits,
    )


def _in_cluster(name: str, task_types: tuple[str, ...], default_model_id: str | None = None) -> Service:
    return Service(
        name=name,
        task_types=task_types,
        settings=IN_CLUSTER_SETTINGS,
        required=() if default_model_id else ("model_id",),
        task_settings={"rerank": ("return_documents",)},
        in_cluster=True,
        default_model_id=default_model_id,
    )


CATALOGUE: dict[str, Service] = {
    s.name: s
    for s in (
        _third_party(
            "openai",
            ("text_embedding", "completion", "chat_completion"),
            ("model_id", "url", "organization_id", "similarity", "dimensions", "max_input_tokens"),
            required=("model_id",),
            rate_limits={"text_embedding": 3000, "completion": 500, "chat_completion": 500},
            task_settings={"text_embedding": ("user",), "completion": ("user",), "chat_completion": ("user",)},
        ),
        _third_party(
            "cohere",
            ("text_embedding", "rerank", "completion"),
            ("model_id", "url", "similarity", "dimensions", "max_input_tokens", "embedding_type"),
            required=(),
            rate_limits={"text_embedding": 10000, "rerank": 10000, "completion": 10000},
            task_settings={"text_embedding": ("input_type", "truncate"), "rerank": ("top_n", "return_documents")},
            embedding_only=frozenset({"similarity", "dimensions", "embedding_type"}),
        ),
        _third_party(
            "hugging_face",
            ("text_embedding", "sparse_embedding"),
            ("url", "similarity", "dimensions", "max_input_tokens"),
            required=("url",),
            rate_limits={"text_embedding": 3000, "sparse_embedding": 3000},
        ),
        _in_cluster("elasticsearch", ("text_embedding", "sparse_embedding", "rerank")),
        _in_cluster("elser", ("sparse_embedding",), default_model_id=".elser_model_2"),
    )
}


@dataclass
class ParsedConfig:
    """The stored form of a PUT body: public settings (with defaults), secrets, task and chunking settings."""

    service_settings: dict[str, Any]
    secrets: dict[str, Any]
    task_settings: dict[str, Any]
    chunking_settings: dict[str, Any] | None


def missing_setting(name: str, scope: str = SERVICE_SETTINGS) -> str:
    """ServiceUtils.missingSettingErrorMsg."""
    return f"[{scope}] does not contain the required setting [{name}]"


def unknown_settings(profile: Profile, leftovers: Mapping[str, Any], service: str) -> EsError:
    """§3.3: leftover keys, rendered as a Java map."""
    settings = java_map(leftovers)
    return bad_request(
        f"{profile.unknown_settings_prefix} contains settings [{settings}] unknown to the [{service}] service"
    )


def parse_put_config(service: Service, task_type: str, body: Mapping[str, Any], profile: Profile) -> ParsedConfig:
    """Validate a PUT body (minus ``service`` and ``task_type``) for ``service`` and build what is stored."""
    config = copy.deepcopy(dict(body))
    raw_settings = config.pop(SERVICE_SETTINGS, None)
    if not isinstance(raw_settings, dict):
        raise bad_request(f"Missing required field [{SERVICE_SETTINGS}]")
    raw_task = config.pop(TASK_SETTINGS, None) or {}
    if not isinstance(raw_task, dict):
        raise bad_request(f"Unable to parse task settings in the request [{raw_task}]")  # [unverified] text
    chunking = _take_chunking_settings(config, task_type, profile)

    if not service.supports(task_type):
        # ServiceUtils.createInvalidTaskTypeException [unverified]: not in the reference.
        raise bad_request(f"The [{service.name}] service does not support task type [{task_type}]")

    if service.name == "elasticsearch" and profile.default_chunking_settings:  # 8.16+, ELSER in this service
        _check_elasticsearch_model_id(raw_settings.get("model_id"))
    settings = _validate_service_settings(service, task_type, raw_settings)
    check_elser_chunk_size(service.name, settings.get("model_id"), chunking, profile)
    secrets = _take_secrets(service, raw_settings)
    task_settings = _take_known(raw_task, service.task_settings.get(task_type, ()))

    for leftovers in (config, raw_settings, raw_task):
        if leftovers:
            raise unknown_settings(profile, leftovers, service.name)
    return ParsedConfig(settings, secrets, task_settings, chunking)


def _take_chunking_settings(config: dict[str, Any], task_type: str, profile: Profile) -> dict[str, Any] | None:
    # Only chunking task types take chunking_settings out of the body (since 8.16). Anywhere else the key
    # stays in the body and is reported as an unknown setting, as upstream.
    if not profile.default_chunking_settings or task_type not in CHUNKING_TASK_TYPES:
        return None
    # Parsed before the service settings (OpenAiService.parseRequestConfig), so its errors win (§10.1).
    return parse_chunking_settings(config.pop(CHUNKING_SETTINGS, None), profile)


# §10.2: the ELSER model ids of ElserModels. The emulator is a platform-agnostic cluster (not one Linux x86_64 ML
# node), so .elser_model_2 is its ELSER model and the optimized variant is refused like any other.
ELSER_MODEL_IDS = (".elser_model_1", ".elser_model_2", ".elser_model_2_linux-x86_64")
PLATFORM_ELSER_MODEL_ID = ".elser_model_2"


def _check_elasticsearch_model_id(model_id: Any) -> None:
    """ElasticsearchInternalService reads model_id first to choose E5, ELSER or a custom model (§10.2, 8.16+)."""
    if model_id is None:
        raise illegal_argument("Error parsing service settings, model_id must be provided")
    if model_id in ELSER_MODEL_IDS and model_id != PLATFORM_ELSER_MODEL_ID:
        raise illegal_argument(
            f"Error parsing request config, model id does not match any models available on this platform. Was "
            f"[{model_id}]. You may need to use a platform agnostic model."
        )


def _validate_service_settings(service: Service, task_type: str, raw: dict[str, Any]) -> dict[str, Any]:
    allowed = [k for k in service.settings if task_type == "text_embedding" or k not in service.embedding_only]
    errors: list[str] = []
    values = _take_known(raw, allowed)
    if service.in_cluster:
        _check_positive_ints(values, ("num_allocations", "num_threads"), errors)
        if "num_threads" not in values:
            errors.append(missing_setting("num_threads"))
        if "num_allocations" not in values and "adaptive_allocations" not in values:
            # ServiceUtils.missingOneOfSettingsErrorMsg
            errors.append(
                f"[{SERVICE_SETTINGS}] does not contain one of the required settings "
                "[num_allocations, adaptive_allocations]"
            )
        if service.default_model_id is not None:
            values.setdefault("model_id", service.default_model_id)
    errors.extend(missing_setting(k) for k in service.required if k not in values)
    if errors:
        raise validation_failed("validation_exception", errors)
    if "rate_limit" in service.settings and task_type in service.rate_limits:
        values.setdefault("rate_limit", {"requests_per_minute": service.rate_limits[task_type]})
    return {k: values[k] for k in service.settings if k in values}


def _take_secrets(service: Service, raw: dict[str, Any]) -> dict[str, Any]:
    missing = [missing_setting(k) for k in service.secrets if k not in raw]
    if missing:
        raise validation_failed("validation_exception", missing)
    return {k: raw.pop(k) for k in service.secrets}


def _take_known(raw: dict[str, Any], keys: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {k: raw.pop(k) for k in keys if k in raw}


def _check_positive_ints(values: Mapping[str, Any], keys: tuple[str, ...], errors: list[str]) -> None:
    for key in keys:
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(
                f"field [{key}] is not of the expected type. The value [{value}] cannot be converted to a [Integer]"
            )
        elif value <= 0:
            errors.append(f"[{SERVICE_SETTINGS}] Invalid value [{value}]. [{key}] must be a positive integer")


# --- update API (§3.4) ---------------------------------------------------------------------------------


def apply_update(
    service: Service,
    task_type: str,
    current: ParsedConfig,
    settings_update: Mapping[str, Any] | None,
    task_update: Mapping[str, Any] | None,
    chunking_update: Mapping[str, Any] | None,
    profile: Profile,
) -> ParsedConfig:
    """Merge an update into a stored config; unknown keys fail as on PUT.

    Secrets are replaced; ``task_settings`` are merged; ``chunking_settings`` replaced wholesale (9.5 only).
    In-cluster services take ``num_allocations`` / ``adaptive_allocations``; ``num_threads`` is silently
    ignored (ES issue #137129) and so, by decision, are their other known keys. Third-party services merge
    any of their known public settings ("newer builds merge further service_settings").
    """
    settings = copy.deepcopy(current.service_settings)
    secrets = dict(current.secrets)
    raw = dict(settings_update or {})
    secrets.update(_take_known(raw, service.secrets))
    allowed = [k for k in service.settings if task_type == "text_embedding" or k not in service.embedding_only]
    known = _take_known(raw, allowed)
    if service.in_cluster:
        errors: list[str] = []
        _check_positive_ints(known, ("num_allocations",), errors)
        if errors:
            raise validation_failed("validation_exception", errors)
        for key in ("num_allocations", "adaptive_allocations"):
            if key in known:
                settings[key] = known[key]
        settings = {k: settings[k] for k in service.settings if k in settings}
    else:
        settings.update(known)
    raw_task = dict(task_update or {})
    task_settings = {**current.task_settings, **_take_known(raw_task, service.task_settings.get(task_type, ()))}
    chunking = current.chunking_settings
    if chunking_update is not None:
        if task_type not in CHUNKING_TASK_TYPES:
            # Decision [unverified]: as on PUT, a task type that does not chunk has no such setting.
            raise unknown_settings(profile, {CHUNKING_SETTINGS: chunking_update}, service.name)
        chunking = parse_chunking_settings(chunking_update, profile)
        check_elser_chunk_size(service.name, settings.get("model_id"), chunking, profile)
    if profile.update_rejects_unknown_settings:
        for leftovers in (raw, raw_task):
            if leftovers:
                raise unknown_settings(profile, leftovers, service.name)
    return ParsedConfig(settings, secrets, task_settings, chunking)


def lookup(name: str) -> Service | None:
    return CATALOGUE.get(name)


def unknown_service(name: str) -> EsError:
    return status_exception(400, f"Unknown service [{name}]")
