"""Version profiles: what changes between Elasticsearch versions (reference §0).

A profile is chosen from any "X.Y.Z" string by taking the newest profile that is not newer than the
requested version (9.4.2 behaves like 9.3, 8.11 like the oldest profile, 8.15). ``version.number`` in
``GET /`` still reports the requested string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .apis import served_apis

ELSER_DEFAULT_ID = ".elser-2-elasticsearch"
E5_DEFAULT_ID = ".multilingual-e5-small-elasticsearch"
RERANK_DEFAULT_ID = ".rerank-v1-elasticsearch"


@dataclass(frozen=True)
class Profile:
    """Behaviour switches of one Elasticsearch version line."""

    key: tuple[int, int]
    # 8.15.0 emitted both model_id and inference_id in endpoint bodies (§3.2).
    emits_model_id: bool
    # §0 8.16: the semantic_text reference check, `indexes` and `error_message` in DELETE bodies.
    index_check: bool
    # §0: PR #113895 added search_inference_id to the check. The reference leaves open whether it shipped
    # in 8.16 or 8.17 [unverified]; it is switched on together with the index check (8.16).
    search_inference_id_check: bool
    # §2.2: the inference_id an omitted semantic_text inference_id resolves to; None = required (8.15).
    semantic_text_default_id: str | None
    # §2.2: GET _mapping always shows inference_id since 8.17; 8.16 omitted it when it was the default.
    mapping_always_emits_inference_id: bool
    # §1.6: default (reserved) endpoints listed by GET.
    default_endpoint_ids: tuple[str, ...]
    # §0 8.18.0 / 9.0.0: deleting a default endpoint needs force=true.
    reserved_delete_needs_force: bool
    # §0 "9.1 (8.19 [unverified])": force also bypasses a missing service, an unparsable config and a
    # failed stop. Decision: 8.19 gets it too (PR #129090 landed before 8.19.0 was cut).
    force_bypasses_service_errors: bool
    # §0 9.5-era: the update API rejects default endpoints and can replace chunking_settings.
    update_rejects_defaults: bool
    update_chunking_settings: bool
    # §3.1: PUT accepts `timeout` since the 8.19 transport version (8.19, 9.1+; 9.0 predates it).
    put_timeout_param: bool
    # SPEC: the update API accepts `timeout` since 9.5.
    update_timeout_param: bool
    # TaskType values the REST layer knows (TaskType.fromStringOrStatusException; `any` besides). Decision (not in
    # the reference): chat_completion arrived with the unified chat API in 8.18 / 9.0. `embedding` is in the
    # 9.5.2+ REST spec's task_type options and in none of 9.3.0's (the newest earlier spec): the 9.5 profile.
    task_types: tuple[str, ...]
    # The spec APIs this version serves (apis.py): a route of any other answers as no handler takes it.
    apis: frozenset[str]
    # §3.2 "newer services default it": decision: since 8.16 (when chunking_settings arrived), embedding
    # endpoints of services that chunk get {"strategy":"sentence","max_chunk_size":250,"sentence_overlap":1}.
    default_chunking_settings: bool
    # §10.1: chunking strategies ChunkingStrategy.fromString knows: word and sentence from 8.16, none and
    # recursive from 8.19 / 9.1 (9.0 answers "Invalid chunkingStrategy none").
    chunking_strategies: tuple[str, ...]
    # §10.1: the upper bound 300 on max_chunk_size (8.16-9.1); PR #133718 removed it in 9.2.
    max_chunk_size_upper_limit: int | None
    # §10.1: "must be a greater than or equal to" up to 9.2 (ServiceUtils), "must be greater than or equal to"
    # from 9.3 (InferenceUtils) [inferred boundary].
    bound_messages_say_a: bool
    # §10.1: ELSER models refuse max_chunk_size > 300 (ElserInternalModel, PR #133718, 9.2+).
    elser_chunk_size_cap: bool
    # §10.1: at most 50 separators (PR #158589, 9.5-era); None = no limit.
    max_separators: int | None
    # §10.4: empty task_settings are printed as {} up to 8.15 (hidden since PR #114389, 8.16).
    emits_empty_task_settings: bool
    # §10.5: the update API checks unknown service/task settings since PR #149430 (2026-06, the 9.5 profile);
    # before it they were silently ignored [inferred].
    update_rejects_unknown_settings: bool
    # §3.3: the unknown-settings text lost its "Model " prefix in newer builds; the reference does not say
    # when. Decision: the 9.5 profile uses the new text, older profiles the old one.
    unknown_settings_prefix: str
    # §2.2: 8.x refuses semantic_text in multi-fields, "newer 9.x allows it". Decision: 9.0+ allows it.
    semantic_text_multifields: bool
    lucene_version: str
    minimum_wire_compatibility_version: str
    minimum_index_compatibility_version: str

    @property
    def name(self) -> str:
        return f"{self.key[0]}.{self.key[1]}"


def _profile(
    key: tuple[int, int],
    *,
    lucene: str,
    defaults: tuple[str, ...],
    reserved_force: bool = False,
    force_bypass: bool = False,
    put_timeout: bool = False,
) -> Profile:
    major = key[0]
    at_least = key.__ge__
    nine = major >= 9
    return Profile(
        key=key,
        emits_model_id=key == (8, 15),
        index_check=at_least((8, 16)),
        search_inference_id_check=at_least((8, 16)),
        semantic_text_default_id=ELSER_DEFAULT_ID if at_least((8, 16)) else None,
        mapping_always_emits_inference_id=at_least((8, 17)),
        default_endpoint_ids=defaults,
        reserved_delete_needs_force=reserved_force,
        force_bypasses_service_errors=force_bypass,
        update_rejects_defaults=at_least((9, 5)),
        update_chunking_settings=at_least((9, 5)),
        put_timeout_param=put_timeout,
        update_timeout_param=at_least((9, 5)),
        task_types=tuple(
            t
            for t, since in (
                ("text_embedding", (8, 15)),
                ("sparse_embedding", (8, 15)),
                ("rerank", (8, 15)),
                ("completion", (8, 15)),
                ("chat_completion", (8, 18)),
                ("embedding", (9, 5)),
            )
            if at_least(since)
        ),
        apis=served_apis(key),
        default_chunking_settings=at_least((8, 16)),
        chunking_strategies=(
            ("word", "sentence", "none", "recursive")
            if at_least((8, 19)) and key != (9, 0)
            else ("word", "sentence")
            if at_least((8, 16))
            else ()
        ),
        max_chunk_size_upper_limit=None if at_least((9, 2)) else 300,
        bound_messages_say_a=not at_least((9, 3)),
        elser_chunk_size_cap=at_least((9, 2)),
        max_separators=50 if at_least((9, 5)) else None,
        emits_empty_task_settings=not at_least((8, 16)),
        update_rejects_unknown_settings=at_least((9, 5)),
        unknown_settings_prefix="Configuration" if at_least((9, 5)) else "Model configuration",
        semantic_text_multifields=nine,
        lucene_version=lucene,
        minimum_wire_compatibility_version="8.18.0" if nine else "7.17.0",
        minimum_index_compatibility_version="8.0.0" if nine else "7.0.0",
    )


_TWO = (ELSER_DEFAULT_ID, E5_DEFAULT_ID)
_THREE = (ELSER_DEFAULT_ID, E5_DEFAULT_ID, RERANK_DEFAULT_ID)

PROFILES: tuple[Profile, ...] = (
    _profile((8, 15), lucene="9.11.1", defaults=()),
    _profile((8, 16), lucene="9.12.0", defaults=_TWO),
    _profile((8, 17), lucene="9.12.0", defaults=_TWO),
    _profile((8, 18), lucene="9.12.1", defaults=_TWO, reserved_force=True),
    _profile((8, 19), lucene="9.12.2", defaults=_THREE, reserved_force=True, force_bypass=True, put_timeout=True),
    _profile((9, 0), lucene="10.1.0", defaults=_TWO, reserved_force=True),
    _profile((9, 1), lucene="10.2.2", defaults=_THREE, reserved_force=True, force_bypass=True, put_timeout=True),
    # 9.2 and 9.3 exist for the chunking rules of §10.1 (no upper bound from 9.2, new wording from 9.3).
    # Their Lucene versions are not in the reference (display only).
    _profile((9, 2), lucene="10.3.1", defaults=_THREE, reserved_force=True, force_bypass=True, put_timeout=True),
    _profile((9, 3), lucene="10.3.2", defaults=_THREE, reserved_force=True, force_bypass=True, put_timeout=True),
    _profile((9, 5), lucene="10.3.2", defaults=_THREE, reserved_force=True, force_bypass=True, put_timeout=True),
)

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-[A-Za-z0-9.]+)?$")


def parse_version(version: str) -> tuple[int, int, int]:
    """Parse "X.Y.Z" (an optional "-SNAPSHOT"-like suffix is allowed)."""
    match = _VERSION_RE.match(version)
    if match is None:
        raise ValueError(f"version must look like X.Y.Z, got {version!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def profile_for(version: str) -> Profile:
    """The newest profile not newer than ``version``; the oldest profile for anything older."""
    major, minor, _ = parse_version(version)
    chosen = PROFILES[0]
    for profile in PROFILES:
        if profile.key <= (major, minor):
            chosen = profile
    return chosen
