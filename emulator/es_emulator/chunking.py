"""``chunking_settings``: ChunkingSettingsBuilder.fromMap and the per-strategy ``fromMap`` (reference §10.1).

Parsing returns the stored (and echoed) form, key order as Elasticsearch writes it:

- word: ``{"strategy":"word","max_chunk_size":N,"overlap":O}``
- sentence: ``{"strategy":"sentence","max_chunk_size":N,"sentence_overlap":S}`` (S defaults to 1)
- recursive: ``{"strategy":"recursive","max_chunk_size":N,"separators":[...]}`` (``separator_group`` expanded)
- none: ``{"strategy":"none"}`` (any other key is dropped: the builder never calls NoneChunkingSettings.fromMap)

Errors of one strategy accumulate in one ``validation_exception`` (``Validation Failed: 1: a;2: b;``) in the
upstream order: unknown keys, then ``max_chunk_size``, then the strategy's other keys. Key lists inside
messages are sorted (upstream prints HashMap order, which is unspecified).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import EsError, illegal_argument, java_double, java_value, validation_failed
from .profiles import Profile

SCOPE = "chunking_settings"

# Task types that chunk their input; only these accept (and default) chunking_settings (§10.1: openai and the
# other third-party services read it for text_embedding, elasticsearch / elser also for sparse_embedding).
CHUNKING_TASK_TYPES = frozenset({"text_embedding", "sparse_embedding"})

# ChunkingSettingsBuilder.DEFAULT_SETTINGS: what a PUT without chunking_settings (or with null / {}) gets.
DEFAULT_CHUNKING_SETTINGS: dict[str, Any] = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
# ChunkingSettingsBuilder.OLD_DEFAULT_SETTINGS: what GET shows for an endpoint stored before 8.16.
OLD_DEFAULT_CHUNKING_SETTINGS: dict[str, Any] = {"strategy": "word", "max_chunk_size": 250, "overlap": 100}

VALID_KEYS: dict[str, frozenset[str]] = {
    "word": frozenset({"strategy", "max_chunk_size", "overlap"}),
    "sentence": frozenset({"strategy", "max_chunk_size", "sentence_overlap"}),
    "recursive": frozenset({"strategy", "max_chunk_size", "separator_group", "separators"}),
}
UNKNOWN_KEYS_LABEL = {"word": "Word based", "sentence": "Sentence based", "recursive": "Recursive"}
MAX_CHUNK_SIZE_LOWER_LIMIT = {"word": 10, "sentence": 20, "recursive": 10}

# SeparatorGroup (commit b5a1f14): the regexes as Elasticsearch holds them (JSON-decoded).
SEPARATOR_GROUPS: dict[str, list[str]] = {
    "plaintext": [r"(?<!\n)\n\n(?!\n)", r"(?<!\n)\n(?!\n)"],
    "markdown": [
        "\n# ",
        "\n## ",
        "\n### ",
        "\n#### ",
        "\n##### ",
        "\n###### ",
        "\n" + r"^(?!\s*$).*\n-{1,}\n",
        "\n" + r"^(?!\s*$).*\n={1,}\n",
    ],
}

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_ELSER_MAX_WINDOW_SIZE = 300


def parse_chunking_settings(given: Any, profile: Profile) -> dict[str, Any]:
    """Validate ``given`` (the request's ``chunking_settings``, None when absent) and return the stored form."""
    if given is None:
        return dict(DEFAULT_CHUNKING_SETTINGS)
    if not isinstance(given, dict):
        # removeFromMapOrDefaultEmpty casts to Map unchecked [inferred: ClassCastException, 500].
        java_type = {str: "String", bool: "Boolean", int: "Integer", float: "Double", list: "ArrayList"}
        name = java_type.get(type(given), "Object")
        package = "java.util" if name == "ArrayList" else "java.lang"
        raise EsError(
            500,
            "class_cast_exception",
            f"class {package}.{name} cannot be cast to class java.util.Map ({package}.{name} and java.util.Map are "
            "in module java.base of loader 'bootstrap')",
        )
    if not given:
        return dict(DEFAULT_CHUNKING_SETTINGS)
    if "strategy" not in given:
        raise illegal_argument("Can't generate Chunker without ChunkingStrategy provided")
    if given["strategy"] is None:
        # settings.get("strategy").toString() [inferred from source; not tested upstream].
        raise EsError(
            500,
            "null_pointer_exception",
            'Cannot invoke "Object.toString()" because the return value of "java.util.Map.get(Object)" is null',
        )
    strategy = java_value(given["strategy"])
    if strategy not in profile.chunking_strategies:
        raise illegal_argument(f"Invalid chunkingStrategy {strategy}")
    if strategy == "none":
        return {"strategy": "none"}
    return _StrategyParser(strategy, dict(given), profile).parse()


def check_elser_chunk_size(
    service_name: str, model_id: Any, chunking: Mapping[str, Any] | None, profile: Profile
) -> None:
    """ElserInternalModel (9.2+): ELSER models refuse chunks larger than ELSER_MAX_WINDOW_SIZE."""
    if not profile.elser_chunk_size_cap or chunking is None:
        return
    is_elser = service_name == "elser" or (isinstance(model_id, str) and model_id.startswith(".elser_model"))
    size = chunking.get("max_chunk_size")
    if is_elser and isinstance(size, int) and size > _ELSER_MAX_WINDOW_SIZE:
        raise illegal_argument(
            f"ELSER based models do not support chunk sizes larger than {_ELSER_MAX_WINDOW_SIZE}. "
            f"Requested chunk size: {size}"
        )


def _is_java_integer(value: Any) -> bool:
    """What ``removeAsType(map, key, Integer.class)`` takes: a JSON integer that fits a Java int."""
    return isinstance(value, int) and not isinstance(value, bool) and _INT_MIN <= value <= _INT_MAX


def _invalid_type(key: str, value: Any, java_type: str) -> str:
    shown = java_value(value)
    return f"field [{key}] is not of the expected type. The value [{shown}] cannot be converted to a [{java_type}]"


class _StrategyParser:
    """One strategy's ``fromMap``, collecting its validation errors."""

    def __init__(self, strategy: str, settings: dict[str, Any], profile: Profile) -> None:
        self.strategy = strategy
        self.settings = settings
        self.profile = profile
        self.errors: list[str] = []

    def parse(self) -> dict[str, Any]:
        unknown = sorted(k for k in self.settings if k not in VALID_KEYS[self.strategy])
        if unknown:
            self.errors.append(
                f"{UNKNOWN_KEYS_LABEL[self.strategy]} chunking settings can not have the following settings: "
                f"[{', '.join(unknown)}]"
            )
        max_chunk_size = self._max_chunk_size()
        result: dict[str, Any] = {"strategy": self.strategy, "max_chunk_size": max_chunk_size}
        if self.strategy == "word":
            result["overlap"] = self._word_overlap(max_chunk_size)
        elif self.strategy == "sentence":
            result["sentence_overlap"] = self._sentence_overlap()
        else:
            result["separators"] = self._separators()
        if self.errors:
            raise validation_failed("validation_exception", self.errors)
        return result

    # --- ServiceUtils / InferenceUtils extractors --------------------------------------------------------

    def _required_positive_integer(self, key: str) -> int | None:
        value = self.settings.get(key)
        if value is None:
            self.errors.append(f"[{SCOPE}] does not contain the required setting [{key}]")
            return None
        if not _is_java_integer(value):
            self.errors.append(_invalid_type(key, value, "Integer"))
            return None
        if value <= 0:
            self.errors.append(f"[{SCOPE}] Invalid value [{value}]. [{key}] must be a positive integer")
            return None
        return int(value)

    def _bound_message(self, key: str, value: int, relation: str, bound: int) -> str:
        article = "a " if self.profile.bound_messages_say_a else ""
        return (
            f"[{SCOPE}] Invalid value [{java_double(value)}]. [{key}] must be {article}{relation} than or equal to "
            f"[{java_double(bound)}]"
        )

    def _max_chunk_size(self) -> int | None:
        value = self._required_positive_integer("max_chunk_size")
        if value is None:
            return None
        lower = MAX_CHUNK_SIZE_LOWER_LIMIT[self.strategy]
        upper = self.profile.max_chunk_size_upper_limit
        if value < lower:
            self.errors.append(self._bound_message("max_chunk_size", value, "greater", lower))
            return None
        if upper is not None and value > upper:
            self.errors.append(self._bound_message("max_chunk_size", value, "less", upper))
            return None
        return value

    def _word_overlap(self, max_chunk_size: int | None) -> int | None:
        if max_chunk_size is None:
            return None  # overlap is checked only against a valid max_chunk_size
        overlap = self._required_positive_integer("overlap")
        if overlap is not None and overlap > max_chunk_size // 2:
            self.errors.append(self._bound_message("overlap", overlap, "less", max_chunk_size // 2))
        return overlap

    def _sentence_overlap(self) -> int:
        value = self.settings.get("sentence_overlap")
        if value is None:
            return 1
        if not _is_java_integer(value):
            self.errors.append(_invalid_type("sentence_overlap", value, "Integer"))
            return 1
        if value not in (0, 1):
            self.errors.append(f"sentence_overlap[{value}] must be either 0 or 1")
        return int(value)

    def _separator_group(self) -> str | None:
        value = self.settings.get("separator_group")
        if value is None:
            return None
        if not isinstance(value, str):
            self.errors.append(_invalid_type("separator_group", value, "String"))
            return None
        name = value.strip().lower()  # SeparatorGroup.valueOf(name.trim().toUpperCase())
        if name not in SEPARATOR_GROUPS:
            self.errors.append(
                f"[{SCOPE}] Invalid value [{value}] received. [separator_group] must be one of "
                f"[{', '.join(sorted(SEPARATOR_GROUPS))}]"
            )
            return None
        return name

    def _separator_list(self) -> list[str] | None:
        value = self.settings.get("separators")
        if value is None:
            return None
        if not isinstance(value, list):
            self.errors.append(_invalid_type("separators", value, "List"))
            return None
        bad = [item for item in value if not isinstance(item, str)]
        for item in bad:
            self.errors.append(_invalid_type("separators", item, "String"))
        return None if bad else list(value)

    def _separators(self) -> list[str]:
        group = self._separator_group()
        separators = self._separator_list()
        if group is not None and separators is not None:
            # The text still says separator_set (renamed to separator_group by PR #131103).
            self.errors.append("Recursive chunking settings can not have both separators and separator_set")
        if group is not None:
            return list(SEPARATOR_GROUPS[group])
        if separators is None:
            return list(SEPARATOR_GROUPS["plaintext"])
        if not separators:
            self.errors.append("Recursive chunking settings can not have an empty list of separators")
        limit = self.profile.max_separators
        if limit is not None and len(separators) > limit:
            self.errors.append(f"separators list size [{len(separators)}] must not exceed [{limit}]")
        return separators
