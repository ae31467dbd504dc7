"""What a media reference is, from its text alone (no I/O): a media UUID or ``http(s)://`` URL (taken by
Runware as is), a data URI or plain base64, a local path or ``file://`` URI, or ``s3://bucket/key``.
The request model accepts them unresolved; :mod:`.checks` and :mod:`.uploads` resolve them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final, Literal

from airflow_provider_wan.media.formats import SNIFF_BYTES, MediaKind, sniff

# How an s3:// reference reaches Runware: uploaded through mediaStorage, or handed over as a presigned URL.
S3InputMode = Literal["upload", "presigned_url"]

SourceForm = Literal["uuid", "url", "data_uri", "base64", "file", "s3", "unsupported"]

B64_RE: Final = re.compile(r"[A-Za-z0-9+/\s]*={0,2}\s*")
_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_UUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Plain base64 shorter than this is never taken for media (a short string is far likelier a file name).
_MIN_BASE64_CHARS: Final = 64
UNSUPPORTED_SCHEME: Final = (
    "unsupported scheme: use a media UUID, an http(s) URL, s3://bucket/key, a local path or a data URI"
)


def is_uuid(value: object) -> bool:
    """Canonical 8-4-4-4-12 hex UUID string, any version (media UUIDs)."""
    return isinstance(value, str) and _UUID_RE.match(value) is not None


_PREFIXES: Final[dict[str, SourceForm]] = {
    "s3://": "s3",
    "file://": "file",
    "http://": "url",
    "https://": "url",
    "data:": "data_uri",
}


def classify_reference(value: str, kind: MediaKind) -> SourceForm:
    """Which of the accepted forms a reference string is."""
    text = value.strip()
    lowered = text[:10].lower()
    form = next((form for prefix, form in _PREFIXES.items() if lowered.startswith(prefix)), None)
    if form is not None:
        return form
    if is_uuid(text):
        return "uuid"
    if _SCHEME_RE.match(text):
        return "unsupported"  # gs://, ftp://...
    # Plain base64 of a supported media format (decodes the first bytes only)?
    if len(text) >= _MIN_BASE64_CHARS and B64_RE.fullmatch(text[:4096]):
        head = b64_head(text)
        if head is not None and sniff(head) is not None:
            return "base64"
    return "file"


def b64_head(payload: str) -> bytes | None:
    """The first decoded bytes of base64 text (enough to sniff the format), or None if it is not base64."""
    chunk = "".join(payload[: 4 * SNIFF_BYTES].split())
    chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        return base64.b64decode(chunk, validate=True)
    except (binascii.Error, ValueError):
        return None


def b64_size(payload: str) -> int:
    """Decoded size of base64 text without decoding it (whitespace ignored, padding subtracted)."""
    chars = len(payload) - sum(payload.count(ws) for ws in ("\n", "\r", " ", "\t"))
    stripped = payload.rstrip()
    padding = len(stripped) - len(stripped.rstrip("="))
    return chars * 3 // 4 - padding


@dataclass(frozen=True)
class Reference:
    """One media reference of a request: where it sits (wire path), what it must be, and its form."""

    parameter: str
    kind: MediaKind
    value: str
    form: SourceForm

    @property
    def unresolved(self) -> bool:
        """Whether it must be read, checked and uploaded/inlined/presigned before Runware can take it."""
        if self.form in ("file", "s3", "unsupported"):
            return True
        return self.kind != "image" and self.form in ("data_uri", "base64")


def reference(parameter: str, kind: MediaKind, value: str) -> Reference:
    return Reference(parameter, kind, value, classify_reference(value, kind))
