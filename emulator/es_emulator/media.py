"""Accept / Content-Type handling and REST API compatibility versions (reference §6.2)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Cause, EsError, SimpleError

VENDOR_PREFIX = "vnd.elasticsearch+"
# Body formats the emulator parses. Elasticsearch also takes yaml, cbor and smile; the emulator answers them
# as unsupported (406), which no JSON client notices.
JSON_SUBTYPES = frozenset({"json", "x-ndjson"})


@dataclass(frozen=True)
class MediaType:
    type: str
    subtype: str
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        # ParsedMediaType's rendering, as quoted in the error texts: "type/subtype; key=value".
        return f"{self.type}/{self.subtype}" + "".join(f"; {k}={v}" for k, v in self.params)

    @property
    def format(self) -> str:
        """The body format: ``json`` for both application/json and application/vnd.elasticsearch+json."""
        return self.subtype.removeprefix(VENDOR_PREFIX)

    @property
    def compatible_with(self) -> int | None:
        if not self.subtype.startswith(VENDOR_PREFIX):
            return None
        for key, value in self.params:
            if key == "compatible-with" and value.isdigit():
                return int(value)
        return None


def parse_media_type(header: str | None) -> MediaType | None:
    """ParsedMediaType.parseMediaType: None for no header, ``*/*`` or a media range (several values)."""
    if header is None:
        return None
    header = header.strip()
    if not header or header == "*/*" or "," in header:
        return None
    parts = [p.strip() for p in header.lower().split(";")]
    type_subtype = parts[0].split("/")
    if len(type_subtype) != 2 or not all(type_subtype):
        return None
    params = tuple((k.strip(), v.strip()) for k, _, v in (p.partition("=") for p in parts[1:] if p))
    return MediaType(type_subtype[0], type_subtype[1], params)


def _header_error(detail: str) -> EsError:
    # §6.2: this failure always names both headers.
    return EsError(
        400,
        "media_type_header_exception",
        "Invalid media-type value on headers [Accept, Content-Type]",
        caused_by=Cause("status_exception", detail),
    )


def check_versions(accept: MediaType | None, content_type: MediaType | None, has_body: bool, major: int) -> int | None:
    """RestCompatibleVersionHelper: accepted versions are ``major`` and ``major - 1``; the Content-Type
    version counts only with a body; when both headers carry a version they must match.

    Returns the version the response is rendered for (the Accept version), or None.
    """
    allowed = (major, major - 1)
    accept_version = accept.compatible_with if accept else None
    if accept_version is not None and accept_version not in allowed:
        raise _header_error(
            f"Accept version must be either version {major} or {major - 1}, but found {accept_version}. Accept={accept}"
        )
    if has_body:
        content_version = content_type.compatible_with if content_type else None
        if content_version is not None and content_version not in allowed:
            raise _header_error(
                f"Content-Type version must be either version {major} or {major - 1}, but found {content_version}. "
                f"Content-Type={content_type}"
            )
        if accept_version is not None and content_version is not None and accept_version != content_version:
            raise _header_error(
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                "requested a compatible version and the compatible versions must match. "
                f"Accept={accept}, Content-Type={content_type}"
            )
    return accept_version


def check_body_content_type(raw_header: str | None, parsed: MediaType | None) -> None:
    """A body needs a JSON Content-Type: otherwise 406 in the flat error form (RestController.dispatchRequest and
    sendContentTypeErrorMessage, read in the source; not in the reference)."""
    if raw_header is None or not raw_header.strip():
        raise SimpleError(406, "Content-Type header is missing")
    if parsed is None or parsed.type != "application" or parsed.format not in JSON_SUBTYPES:
        raise SimpleError(406, f"Content-Type header [{raw_header}] is not supported")


def response_content_type(version: int | None) -> str:
    if version is None:
        return "application/json"
    return f"application/vnd.elasticsearch+json;compatible-with={version}"
