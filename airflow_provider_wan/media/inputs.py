"""Resolve user media references into what Runware accepts, before any ``videoInference`` request.

Accepted forms for ``reference_images``, ``frame_images[].image``, ``reference_videos`` and ``audio``:

* a Runware media UUID or an ``http(s)://`` URL: passed through untouched (never fetched);
* a data URI or plain base64: images are checked (format from the decoded header, size from the length)
  and passed through; videos and audio cannot go inline, so they are decoded, checked and uploaded;
* a local path (or ``file://`` URI) or ``s3://bucket/key`` (read with the amazon provider's S3Hook).

Local and S3 images up to :attr:`MediaLimits.inline_image_max_bytes` go inline as a data URI; larger
images, and every local/S3 video and audio file, are stored with ``mediaStorage`` (idempotently, see
:mod:`.storage`) and replaced by their media UUID. With ``s3_input_mode="presigned_url"`` S3 objects are
instead handed to Runware as presigned GET URLs (masked in logs), so their bytes never pass through the
worker.

Two phases keep every check ahead of any Runware request: first each reference is classified and checked
(format by magic bytes, size, video duration probed with PyAV: :func:`check_media_inputs`), then the
uploads happen (:meth:`CheckedInputs.resolve`). A bad input therefore raises
:class:`~airflow_provider_wan.errors.InvalidRequestError` naming the wire parameter
(``inputs.referenceVideos[0]``) and the source, having sent nothing to Runware; and a caller can check a
budget against the probed input video seconds between the two phases, before anything is uploaded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal
from urllib.parse import unquote, urlsplit

from airflow_provider_wan.errors import InvalidRequestError, RunwareError, RunwareTransportError
from airflow_provider_wan.media.formats import (
    ALLOWED,
    SNIFF_BYTES,
    MediaFormat,
    MediaKind,
    describe_head,
    sniff,
)
from airflow_provider_wan.media.s3 import (
    DENIED_CODES,
    NOT_FOUND_CODES,
    S3Location,
    error_code,
    parse_s3_uri,
    s3_client,
)
from airflow_provider_wan.media.storage import upload_idempotent
from airflow_provider_wan.models import FrameImage, WanVideoRequest, is_uuid, parse_request_text

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook

log = logging.getLogger(__name__)

MiB = 1024 * 1024

SourceForm = Literal["uuid", "url", "data_uri", "base64", "file", "s3", "unsupported"]
ResolvedForm = Literal["uuid", "url", "data_uri", "base64", "media_storage", "presigned_url"]
S3InputMode = Literal["upload", "presigned_url"]

_B64_RE = re.compile(r"[A-Za-z0-9+/\s]*={0,2}\s*")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Plain base64 shorter than this is never taken for media (a short string is far likelier a file name).
_MIN_BASE64_CHARS = 64


@dataclass(frozen=True)
class MediaLimits:
    """Size caps per kind (bytes) and the inline threshold for images read from files or S3.

    Runware documents no size limits; these defaults keep a worker's memory bounded (``mediaStorage``
    takes base64 in a JSON body, so an upload holds the file in memory about three times over).
    """

    max_image_bytes: int = 20 * MiB
    max_video_bytes: int = 200 * MiB
    max_audio_bytes: int = 50 * MiB
    inline_image_max_bytes: int = 5 * MiB

    def max_bytes(self, kind: MediaKind) -> int:
        limits = {"image": self.max_image_bytes, "video": self.max_video_bytes, "audio": self.max_audio_bytes}
        return limits[kind]


DEFAULT_LIMITS = MediaLimits()


@dataclass(frozen=True)
class ResolvedMedia:
    """What happened to one media reference; safe to log (no URLs with credentials, no base64)."""

    parameter: str
    kind: MediaKind
    source: str
    source_form: SourceForm
    form: ResolvedForm
    media_format: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    media_uuid: str | None = None
    duration_seconds: float | None = None
    reused: bool = False  # an earlier attempt (conflictTaskUUID) or an identical input in this call stored it

    def describe(self) -> str:
        parts = [f"{self.parameter}: {self.source} -> {self.form}"]
        if self.media_uuid:
            parts.append(f"mediaUUID={self.media_uuid}")
        if self.media_format:
            parts.append(self.media_format)
        if self.size_bytes is not None:
            parts.append(f"{self.size_bytes} bytes")
        if self.duration_seconds is not None:
            parts.append(f"{self.duration_seconds:.2f}s")
        if self.reused:
            parts.append("reused")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "kind": self.kind,
            "source": self.source,
            "source_form": self.source_form,
            "form": self.form,
            "media_format": self.media_format,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "media_uuid": self.media_uuid,
            "duration_seconds": self.duration_seconds,
            "reused": self.reused,
        }


@dataclass(frozen=True)
class ResolvedInputs:
    """The request with every reference replaced by a UUID, URL or data URI, and what it took.

    ``input_video_seconds`` feeds the cost estimate: probed seconds of the videos we read, plus the
    caller-stated seconds of UUID/URL videos; ``None`` when some video's length is unknown (the
    estimate then excludes input video seconds and the operator should say so).
    """

    request: WanVideoRequest
    input_video_seconds: float | None
    media: tuple[ResolvedMedia, ...] = ()
    #: Fingerprint of the request *as given* (references unresolved): stable across retries even when
    #: resolution yields fresh presigned URLs, so the operator derives its task UUID from this one.
    fingerprint: str = ""

    @property
    def uploads(self) -> list[ResolvedMedia]:
        return [m for m in self.media if m.form == "media_storage"]

    @property
    def unprobed_videos(self) -> list[str]:
        """Parameters of video inputs whose length was not measured (UUID/URL inputs, unreadable headers)."""
        return [m.parameter for m in self.media if m.kind == "video" and m.duration_seconds is None]

    def to_dict(self) -> dict[str, Any]:
        """Small JSON-safe summary (for XCom or logs): never the media or a presigned URL."""
        return {
            "input_video_seconds": self.input_video_seconds,
            "fingerprint": self.fingerprint,
            "media": [m.to_dict() for m in self.media],
        }


# ---------------------------------------------------------------------------------------------------
# Classifying references


def classify_reference(value: str, kind: MediaKind) -> SourceForm:
    """Which of the accepted forms a reference string is (no I/O)."""
    text = value.strip()
    lowered = text[:10].lower()
    if lowered.startswith("s3://"):
        return "s3"
    if lowered.startswith("file://"):
        return "file"
    if lowered.startswith(("http://", "https://")):
        return "url"
    if lowered.startswith("data:"):
        return "data_uri"
    if is_uuid(text):
        return "uuid"
    if _SCHEME_RE.match(text):
        return "unsupported"  # gs://, ftp://...: rejected with a clear message when checked
    if _looks_base64(text):
        return "base64"
    return "file"


def _looks_base64(text: str) -> bool:
    """Plain base64 of a supported media format (decodes the first bytes only)."""
    if len(text) < _MIN_BASE64_CHARS or not _B64_RE.fullmatch(text[:4096]):
        return False
    head = _b64_head(text)
    return head is not None and sniff(head) is not None


def _b64_head(payload: str) -> bytes | None:
    chunk = "".join(payload[: 4 * SNIFF_BYTES].split())
    chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        return base64.b64decode(chunk, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_size(payload: str) -> int:
    """Decoded size of base64 text without decoding it (whitespace ignored, padding subtracted)."""
    chars = len(payload) - sum(payload.count(ws) for ws in ("\n", "\r", " ", "\t"))
    stripped = payload.rstrip()
    padding = len(stripped) - len(stripped.rstrip("="))
    return chars * 3 // 4 - padding


def needs_resolution(request: WanVideoRequest | Mapping[str, Any] | str) -> bool:
    """Whether a reference must be read or uploaded (local path, ``file://``, ``s3://``, inline video/audio).

    Cheap and import-free (no boto3, no PyAV): the operator calls it first and skips resolution otherwise.
    """
    refs = _references(_fields_of(request))
    _refuse_placeholders(refs)
    return any(ref.needs_work for ref in refs)


def _refuse_placeholders(refs: Sequence[_Ref]) -> None:
    for ref in refs:
        if is_placeholder(ref.value):
            raise InvalidRequestError(
                "holds a placeholder from prevalidate_request(): pass the original request (with its paths "
                "or s3:// URIs) to needs_resolution() / resolve_media_inputs()",
                parameter=ref.parameter,
                code="invalidMediaReference",
            )


# ---------------------------------------------------------------------------------------------------
# Walking the request's media fields


@dataclass
class _Ref:
    parameter: str
    kind: MediaKind
    value: str
    form: SourceForm

    @property
    def needs_work(self) -> bool:
        if self.form in ("file", "s3", "unsupported"):  # unsupported: to fail early with a clear message
            return True
        return self.kind != "image" and self.form in ("data_uri", "base64")


@dataclass
class _Fields:
    reference_images: list[str] | None
    frame_images: list[tuple[Any, Any]] | None  # (image, frame); image is a str once validated
    reference_videos: list[str] | None
    audio: str | None


def _fields_of(request: WanVideoRequest | Mapping[str, Any] | str) -> _Fields:
    if isinstance(request, WanVideoRequest):
        return _Fields(
            reference_images=list(request.reference_images) if request.reference_images else None,
            frame_images=[(f.image, f.frame) for f in request.frame_images] if request.frame_images else None,
            reference_videos=list(request.reference_videos) if request.reference_videos else None,
            audio=request.audio,
        )
    data = _as_mapping(request)
    inputs = data.get("inputs")
    source: Mapping[str, Any] = inputs if isinstance(inputs, Mapping) else {}

    def pick(snake: str, wire: str) -> Any:
        value = data.get(snake)
        return value if value is not None else source.get(wire)

    frames_raw = pick("frame_images", "frameImages")
    frames: list[tuple[Any, Any]] | None = None
    if isinstance(frames_raw, (list, tuple)):
        frames = []
        for item in frames_raw:
            if isinstance(item, FrameImage):
                frames.append((item.image, item.frame))
            elif isinstance(item, Mapping):
                frames.append((item.get("image"), item.get("frame")))
            else:
                frames.append((item, None))
    return _Fields(
        reference_images=_str_list(pick("reference_images", "referenceImages")),
        frame_images=frames,
        reference_videos=_str_list(pick("reference_videos", "referenceVideos")),
        audio=pick("audio", "audio"),
    )


def _as_mapping(request: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(request, str):
        loaded = parse_request_text(request)  # JSON, or the Python repr Jinja renders from a dict
        if not isinstance(loaded, Mapping):
            raise InvalidRequestError(
                "a string request must be a JSON object or a Python dict literal", parameter="request"
            )
        return loaded
    if not isinstance(request, Mapping):
        raise InvalidRequestError("must be an object of request parameters", parameter="request")
    return request


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _references(fields: _Fields) -> list[_Ref]:
    refs: list[_Ref] = []

    def add(parameter: str, kind: MediaKind, value: Any) -> None:
        if isinstance(value, str) and value.strip():
            refs.append(_Ref(parameter, kind, value, classify_reference(value, kind)))

    for i, value in enumerate(fields.reference_images or []):
        add(f"inputs.referenceImages[{i}]", "image", value)
    for i, (image, _frame) in enumerate(fields.frame_images or []):
        add(f"inputs.frameImages[{i}].image", "image", image)
    for i, value in enumerate(fields.reference_videos or []):
        add(f"inputs.referenceVideos[{i}]", "video", value)
    if fields.audio is not None:
        add("inputs.audio", "audio", fields.audio)
    return refs


# Placeholders are valid UUIDs with a fixed, recognisable head, so that one can never reach Runware.
_PLACEHOLDER_HEAD = "00000000-0000-4000-8"


def _placeholder_for(reference: str) -> str:
    digest = hashlib.sha256(f"airflow-provider-wan/placeholder\x00{reference}".encode()).hexdigest()
    return f"{_PLACEHOLDER_HEAD}{digest[:3]}-{digest[3:15]}"


def is_placeholder(value: object) -> bool:
    """Whether ``value`` is a placeholder from :func:`prevalidate_request` (never a real media UUID)."""
    return isinstance(value, str) and value.startswith(_PLACEHOLDER_HEAD)


def request_values(request: WanVideoRequest | Mapping[str, Any] | str) -> dict[str, Any]:
    """The snake_case parameters ``request`` sets, validated, with media references kept as given.

    For the operator's whole ``request`` argument (snake_case or wire dict, JSON, or a rendered Python
    repr): local paths, ``s3://`` URIs and inline data in ``reference_videos``/``audio``, which the model
    alone refuses, come back as the user wrote them, ready for :func:`check_media_inputs`.
    """
    validated, placeholders = _validated_request(request)
    values: dict[str, Any] = {name: getattr(validated, name) for name in validated.model_fields_set}
    fields = _lead_back(_fields_of(validated), placeholders)
    if values.get("reference_videos"):
        values["reference_videos"] = fields.reference_videos
    if isinstance(values.get("audio"), str):
        values["audio"] = fields.audio
    return values


def _lead_back(fields: _Fields, placeholders: Mapping[str, str]) -> _Fields:
    """``fields`` with each placeholder (videos and audio only) replaced by the user's original reference."""
    fields.reference_videos = [placeholders.get(v, v) for v in fields.reference_videos or []] or None
    if fields.audio is not None:
        fields.audio = placeholders.get(fields.audio, fields.audio)
    return fields


def prevalidate_request(request: WanVideoRequest | Mapping[str, Any] | str) -> WanVideoRequest:
    """The request validated against every Wan2.7 rule before any media work, for estimates and fingerprints.

    ``WanVideoRequest`` takes only UUIDs/URLs for videos and audio, so local paths, ``s3://`` URIs and
    inline data there are replaced by deterministic placeholder UUIDs: the result's ``fingerprint()``
    equals :attr:`ResolvedInputs.fingerprint`. Never submit it: pass the original request to
    :func:`resolve_media_inputs` (which refuses placeholders).
    """
    return _validated_request(request)[0]


def _validated_request(
    request: WanVideoRequest | Mapping[str, Any] | str,
) -> tuple[WanVideoRequest, dict[str, str]]:
    """The request validated by :class:`WanVideoRequest`, with every other rule checked before media work.

    The model accepts only UUIDs/URLs for videos and audio, so those references are swapped for
    placeholder UUIDs derived from the reference (deterministic, so the placeholder request has a stable
    fingerprint); the returned map leads each placeholder back to the original.
    """
    if isinstance(request, WanVideoRequest):
        return request, {}
    data = dict(_as_mapping(request))
    placeholders: dict[str, str] = {}

    def swap(value: Any, kind: MediaKind) -> Any:
        if isinstance(value, str) and classify_reference(value, kind) not in ("uuid", "url"):
            token = _placeholder_for(value)
            placeholders[token] = value
            return token
        return value

    def swap_in(container: dict[str, Any], videos_key: str, audio_key: str) -> None:
        videos = container.get(videos_key)
        if isinstance(videos, (list, tuple)):
            container[videos_key] = [swap(v, "video") for v in videos]
        if container.get(audio_key) is not None:
            container[audio_key] = swap(container[audio_key], "audio")

    swap_in(data, "reference_videos", "audio")
    if isinstance(data.get("inputs"), Mapping):
        inputs = dict(data["inputs"])
        swap_in(inputs, "referenceVideos", "audio")
        data["inputs"] = inputs
    return WanVideoRequest.from_any(data), placeholders


# ---------------------------------------------------------------------------------------------------
# Phase 1: check every reference (no Runware request)


@dataclass
class _Checked:
    ref: _Ref
    fmt: MediaFormat | None = None
    size: int | None = None
    duration: float | None = None
    source: str = ""
    location: S3Location | None = None
    path: Path | None = None
    data: bytes | None = None  # decoded inline video/audio


def _invalid(
    ref: _Ref, source: str, message: str, code: str, allowed: Sequence[str] | None = None
) -> InvalidRequestError:
    return InvalidRequestError(
        f"{source}: {message}", parameter=ref.parameter, code=code, allowed_values=allowed
    )


def _check_format(ref: _Ref, source: str, head: bytes, declared_mime: str | None = None) -> MediaFormat:
    fmt = sniff(head)
    allowed = ALLOWED[ref.kind]
    if fmt is None or fmt.kind != ref.kind:
        found = f"{fmt.name} ({fmt.kind})" if fmt else describe_head(head)
        raise _invalid(
            ref, source, f"not a supported {ref.kind}: found {found}", "unsupportedMediaFormat", allowed
        )
    if declared_mime is not None and declared_mime.lower() not in _mime_aliases(fmt):
        raise _invalid(
            ref,
            source,
            f"declares {declared_mime} but the bytes are {fmt.name}",
            "unsupportedMediaFormat",
            allowed,
        )
    return fmt


def _mime_aliases(fmt: MediaFormat) -> set[str]:
    extra = {
        "jpeg": {"image/jpg"},
        "wav": {"audio/x-wav", "audio/wave"},
        "mp3": {"audio/mp3"},
        "flac": {"audio/x-flac"},
    }
    return {fmt.mime, *extra.get(fmt.name, set())}


def _check_size(ref: _Ref, source: str, size: int, limits: MediaLimits) -> None:
    limit = limits.max_bytes(ref.kind)
    if size > limit:
        raise _invalid(
            ref, source, f"{size} bytes exceeds the {ref.kind} limit of {limit} bytes", "invalidMediaSize"
        )
    if size == 0:
        raise _invalid(ref, source, "is empty", "invalidMediaSize")


def _safe_url(url: str) -> str:
    """Scheme, host and path only: query strings may carry credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    text = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    return text if len(text) <= 100 else text[:97] + "..."


def _local_path(value: str) -> Path:
    text = value.strip()
    if text.lower().startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file:// URIs must name a local file (file:///path)")
        text = unquote(parts.path)
    return Path(os.path.expanduser(text))


class _Resolver:
    def __init__(
        self,
        *,
        aws_conn_id: str | None,
        s3_input_mode: S3InputMode,
        limits: MediaLimits,
        presign_expires: int,
        s3: S3Client | None,
    ) -> None:
        self.aws_conn_id = aws_conn_id
        self.mode = s3_input_mode
        self.limits = limits
        self.presign_expires = presign_expires
        self._s3 = s3
        self._by_sha: dict[str, ResolvedMedia] = {}
        self._presigned: dict[str, str] = {}

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            self._s3 = s3_client(self.aws_conn_id)
        return self._s3

    # -- phase 1 ----------------------------------------------------------------------------------------

    def check(self, ref: _Ref) -> _Checked:
        handler: Callable[[_Ref], _Checked] = {
            "uuid": self._check_passthrough,
            "url": self._check_url,
            "unsupported": self._check_url,
            "data_uri": self._check_inline,
            "base64": self._check_inline,
            "file": self._check_file,
            "s3": self._check_s3,
        }[ref.form]
        return handler(ref)

    def _check_passthrough(self, ref: _Ref) -> _Checked:
        return _Checked(ref, source=f"media UUID {ref.value.strip()}")

    def _check_url(self, ref: _Ref) -> _Checked:
        value = ref.value.strip()
        if not value.lower().startswith(("http://", "https://")):
            scheme = value.split("://", 1)[0]
            raise _invalid(
                ref,
                f"{scheme}:// reference",
                "unsupported scheme: use a media UUID, an http(s) URL, s3://bucket/key, a local path "
                "or a data URI",
                "invalidMediaReference",
            )
        return _Checked(ref, source=_safe_url(value))

    def _check_inline(self, ref: _Ref) -> _Checked:
        value = ref.value.strip()
        declared: str | None = None
        payload = value
        source = "base64 string"
        if ref.form == "data_uri":
            header, sep, payload = value.partition(",")
            source = "data URI"
            if not sep or not header.lower().endswith(";base64"):
                raise _invalid(
                    ref, source, "must be of the form data:<mime>;base64,<data>", "invalidMediaData"
                )
            # "data:image/png;name=a.png;base64": only the MIME type itself counts.
            declared = header[len("data:") : -len(";base64")].split(";", 1)[0].strip() or None
        head = _b64_head(payload)
        if head is None or not _B64_RE.fullmatch(payload):
            raise _invalid(ref, source, "is not valid base64", "invalidMediaData")
        size = _b64_size(payload)
        source = f"{source} ({size} bytes)"
        _check_size(ref, source, size, self.limits)
        fmt = _check_format(ref, source, head, declared)
        checked = _Checked(ref, fmt=fmt, size=size, source=source)
        if ref.kind != "image":
            # Videos and audio cannot go inline: decode now (fully validated) and upload in phase 2.
            try:
                checked.data = base64.b64decode("".join(payload.split()), validate=True)
            except (binascii.Error, ValueError):
                raise _invalid(ref, source, "is not valid base64", "invalidMediaData") from None
            if ref.kind == "video":
                checked.duration = _probe(ref, source, io.BytesIO(checked.data))
        return checked

    def _check_file(self, ref: _Ref) -> _Checked:
        try:
            path = _local_path(ref.value)
        except ValueError as exc:
            raise _invalid(ref, ref.value.strip()[:100], str(exc), "invalidMediaReference") from None
        source = str(path) if len(str(path)) <= 160 else str(path)[:150] + "..."
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "file not found"
            hint = "" if path.is_absolute() else " (relative to the worker's current directory)"
            raise _invalid(ref, source, what + hint, "mediaNotFound")
        try:
            size = path.stat().st_size
            _check_size(ref, source, size, self.limits)
            with path.open("rb") as handle:
                head = handle.read(SNIFF_BYTES)
        except OSError as exc:
            raise _invalid(
                ref, source, f"cannot be read: {exc.strerror or exc}", "mediaNotReadable"
            ) from None
        fmt = _check_format(ref, source, head)
        checked = _Checked(ref, fmt=fmt, size=size, source=source, path=path)
        if ref.kind == "video":
            checked.duration = _probe(ref, source, str(path))
        return checked

    def _check_s3(self, ref: _Ref) -> _Checked:
        location = parse_s3_uri(ref.value.strip(), parameter=ref.parameter)
        source = location.uri
        head_info = self._s3_call(
            ref, source, lambda: self.s3.head_object(Bucket=location.bucket, Key=location.key)
        )
        size = int(head_info.get("ContentLength", 0))
        _check_size(ref, source, size, self.limits)
        head = self._s3_call(
            ref,
            source,
            lambda: self.s3.get_object(
                Bucket=location.bucket, Key=location.key, Range=f"bytes=0-{SNIFF_BYTES - 1}"
            )["Body"].read(),
        )
        fmt = _check_format(ref, source, head)
        checked = _Checked(ref, fmt=fmt, size=size, source=source, location=location)
        if ref.kind == "video":
            raw = _S3RangeReader(self.s3, location, size)
            try:
                checked.duration = _probe(ref, source, io.BufferedReader(raw, buffer_size=1 * MiB))
            except Exception:
                if raw.error is not None:  # S3 failed under PyAV's feet: report that, not a bad video
                    raise _s3_error(ref, source, raw.error) from None
                raise
        return checked

    def _s3_call(self, ref: _Ref, source: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            raise _s3_error(ref, source, exc) from None

    # -- phase 2 ----------------------------------------------------------------------------------------

    def resolve(
        self, checked: _Checked, *, hook: RunwareHook | None, scope: str
    ) -> tuple[str, ResolvedMedia]:
        ref = checked.ref
        value = ref.value.strip()
        report = ResolvedMedia(
            parameter=ref.parameter,
            kind=ref.kind,
            source=checked.source,
            source_form=ref.form,
            form="uuid",  # set below
            media_format=checked.fmt.name if checked.fmt else None,
            size_bytes=checked.size,
            duration_seconds=checked.duration,
        )
        if ref.form == "uuid":
            return value, replace(report, form="uuid", media_uuid=value)
        if ref.form == "url":
            return value, replace(report, form="url")
        if ref.kind == "image" and ref.form in ("data_uri", "base64"):
            return value, replace(report, form="data_uri" if ref.form == "data_uri" else "base64")
        if ref.form == "s3" and self.mode == "presigned_url":
            return self._presign(ref, checked), replace(report, form="presigned_url")
        data = self._read(checked)
        digest = hashlib.sha256(data).hexdigest()
        report = replace(report, sha256=digest, size_bytes=len(data))
        assert checked.fmt is not None
        if ref.kind == "image" and len(data) <= self.limits.inline_image_max_bytes:
            uri = f"data:{checked.fmt.mime};base64,{base64.b64encode(data).decode('ascii')}"
            return uri, replace(report, form="data_uri")
        earlier = self._by_sha.get(digest)
        if earlier is not None and earlier.media_uuid:
            # The same bytes twice in one request (e.g. one clip from a file and from S3): store once.
            return earlier.media_uuid, replace(
                report, form="media_storage", media_uuid=earlier.media_uuid, reused=True
            )
        if hook is None:
            raise RunwareError(
                f"{ref.parameter}: {checked.source} must be stored with mediaStorage, "
                "but no RunwareHook was given",
                code="missingHook",
                category="validation",
                parameter=ref.parameter,
                retryable=False,
            )
        stored = upload_idempotent(hook, data, content_sha256=digest, scope=scope)
        resolved = replace(
            report, form="media_storage", media_uuid=stored.media_uuid, reused=stored.recovered
        )
        self._by_sha[digest] = resolved
        return stored.media_uuid, resolved

    def _read(self, checked: _Checked) -> bytes:
        ref = checked.ref
        if checked.data is not None:
            return checked.data
        limit = self.limits.max_bytes(ref.kind)
        if checked.path is not None:
            try:
                with checked.path.open("rb") as handle:
                    data = handle.read(limit + 1)
            except OSError as exc:
                raise _invalid(
                    ref, checked.source, f"cannot be read: {exc.strerror or exc}", "mediaNotReadable"
                ) from None
        else:
            location = checked.location
            assert location is not None
            data = self._s3_call(
                ref,
                checked.source,
                lambda: self.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read(limit + 1),
            )
        # The object may have changed since phase 1: check again what will actually be sent.
        _check_size(ref, checked.source, len(data), self.limits)
        _check_format(ref, checked.source, data[:SNIFF_BYTES])
        return data

    def _presign(self, ref: _Ref, checked: _Checked) -> str:
        from airflow.sdk.log import mask_secret

        location = checked.location
        assert location is not None
        if location.uri in self._presigned:
            return self._presigned[location.uri]
        url = self._s3_call(
            ref,
            checked.source,
            lambda: self.s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": location.bucket, "Key": location.key},
                ExpiresIn=self.presign_expires,
            ),
        )
        if not isinstance(url, str):
            raise _s3_error(ref, checked.source, RuntimeError("no presigned URL returned"))
        mask_secret(url)  # the signature grants read access: never let it reach a task log
        self._presigned[location.uri] = url
        return url


def _s3_error(ref: _Ref, source: str, exc: BaseException) -> RunwareError:
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        what = "bucket not found" if code == "NoSuchBucket" else "object not found"
        return _invalid(ref, source, what, "mediaNotFound")
    if code in DENIED_CODES:
        return _invalid(ref, source, f"access denied ({code})", "mediaNotReadable")
    if code == "InvalidRange":
        return _invalid(ref, source, "is empty", "invalidMediaSize")
    # Anything else (throttling, 5xx, endpoint unreachable) is transient: the task may retry.
    return RunwareTransportError(
        f"{ref.parameter}: reading {source} from S3 failed: {type(exc).__name__}: {str(exc)[:200]}",
        code="s3Error",
        category="transport",
        parameter=ref.parameter,
    )


class _S3RangeReader(io.RawIOBase):
    """Seekable read-only view of an S3 object through ranged GETs, so PyAV can probe a remote video
    (reading its headers and index) without downloading it."""

    def __init__(self, client: S3Client, location: S3Location, size: int) -> None:
        super().__init__()
        self._client = client
        self._location = location
        self._size = size
        self._pos = 0
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        end = min(self._size, self._pos + len(view)) - 1
        try:
            body = self._client.get_object(
                Bucket=self._location.bucket, Key=self._location.key, Range=f"bytes={self._pos}-{end}"
            )["Body"].read()
        except Exception as exc:
            self.error = exc
            raise OSError(f"ranged GET failed: {type(exc).__name__}") from exc
        view[: len(body)] = body
        self._pos += len(body)
        return len(body)


def _probe(ref: _Ref, source: str, media: str | BinaryIO) -> float | None:
    """Seconds of a video from its container headers (PyAV, imported lazily); None when unknown.

    A file that PyAV cannot open at all is rejected: Runware would fail on it after accepting the task.
    """
    try:
        import av
    except ImportError:  # PyAV is optional: without it the estimate simply lacks input seconds
        log.warning("PyAV is not installed: the length of %s is unknown", ref.parameter)
        return None
    try:
        with av.open(media, mode="r") as container:
            if container.duration:
                return round(float(container.duration) / 1_000_000, 3)
            for stream in container.streams.video:
                if stream.duration and stream.time_base:
                    return round(float(stream.duration * stream.time_base), 3)
    except av.FFmpegError as exc:
        raise _invalid(
            ref, source, f"cannot be read as a video ({str(exc)[:120]})", "invalidMediaData"
        ) from None
    return None


# ---------------------------------------------------------------------------------------------------
# Public entry point


def check_media_inputs(
    request: WanVideoRequest | Mapping[str, Any] | str,
    *,
    aws_conn_id: str | None = "aws_default",
    s3_input_mode: S3InputMode = "upload",
    input_video_seconds: float | None = None,
    limits: MediaLimits | None = None,
    presign_expires: int = 6 * 3600,
    s3: S3Client | None = None,
) -> CheckedInputs:
    """Phase 1 alone: check every media reference of ``request`` and probe its videos; no Runware request.

    Reads what it must (local files, S3 heads and ranged GETs) to check format and size and to measure
    input video seconds, so the caller can enforce a budget with the true estimate *before* anything is
    uploaded to Runware. Then :meth:`CheckedInputs.resolve` uploads (phase 2).

    :param limits: size caps; ``None`` means :data:`DEFAULT_LIMITS` (looked up at call time).
    :raises InvalidRequestError: naming the parameter and source.
    """
    if s3_input_mode not in ("upload", "presigned_url"):
        raise InvalidRequestError(
            f"unknown s3_input_mode {s3_input_mode!r}",
            parameter="s3_input_mode",
            allowed_values=["upload", "presigned_url"],
        )
    if isinstance(request, WanVideoRequest):
        _refuse_placeholders(_references(_fields_of(request)))
    validated, placeholders = _validated_request(request)
    fields = _lead_back(_fields_of(validated), placeholders)
    resolver = _Resolver(
        aws_conn_id=aws_conn_id,
        s3_input_mode=s3_input_mode,
        limits=limits if limits is not None else DEFAULT_LIMITS,
        presign_expires=presign_expires,
        s3=s3,
    )
    checked = tuple(resolver.check(ref) for ref in _references(fields))
    return CheckedInputs(
        request=validated,
        input_video_seconds=_total_video_seconds(
            [c.duration if c.ref.kind == "video" else 0.0 for c in checked], input_video_seconds
        ),
        fingerprint=validated.fingerprint(),
        _fields=fields,
        _checked=checked,
        _resolver=resolver,
    )


@dataclass(frozen=True)
class CheckedInputs:
    """Every reference checked (phase 1), nothing sent to Runware yet; :meth:`resolve` does phase 2.

    ``request`` is the validated request with placeholders for local/S3/inline videos and audio (for the
    estimate and fingerprint only); ``input_video_seconds`` is as in :class:`ResolvedInputs`.
    """

    request: WanVideoRequest
    input_video_seconds: float | None
    fingerprint: str
    _fields: _Fields
    _checked: tuple[_Checked, ...]
    _resolver: _Resolver

    def resolve(self, *, hook: RunwareHook | None, scope: str) -> ResolvedInputs:
        """Upload / inline / presign every checked reference (phase 2) and build the submittable request.

        :param hook: used for ``mediaStorage`` uploads (``None`` is fine when nothing needs uploading).
        :param scope: idempotency scope of uploads (see :func:`resolve_media_inputs`).
        """
        values: dict[str, str] = {}
        media: list[ResolvedMedia] = []
        for item in self._checked:
            value, resolved = self._resolver.resolve(item, hook=hook, scope=scope)
            values[item.ref.parameter] = value
            media.append(resolved)
            log.info("Media input %s", resolved.describe())
        fields = self._fields
        changes: dict[str, Any] = {}
        if fields.reference_images:
            changes["reference_images"] = [
                values.get(f"inputs.referenceImages[{i}]", v) for i, v in enumerate(fields.reference_images)
            ]
        if fields.frame_images:
            changes["frame_images"] = [
                FrameImage(image=values.get(f"inputs.frameImages[{i}].image", image), frame=frame)
                for i, (image, frame) in enumerate(fields.frame_images)
            ]
        if fields.reference_videos:
            changes["reference_videos"] = [
                values.get(f"inputs.referenceVideos[{i}]", v) for i, v in enumerate(fields.reference_videos)
            ]
        if fields.audio is not None:
            changes["audio"] = values.get("inputs.audio", fields.audio)
        return ResolvedInputs(
            request=self.request.replace(**changes) if changes else self.request,
            input_video_seconds=self.input_video_seconds,
            media=tuple(media),
            fingerprint=self.fingerprint,
        )


def resolve_media_inputs(
    request: WanVideoRequest | Mapping[str, Any] | str,
    *,
    hook: RunwareHook | None,
    aws_conn_id: str | None = "aws_default",
    scope: str,
    s3_input_mode: S3InputMode = "upload",
    input_video_seconds: float | None = None,
    limits: MediaLimits | None = None,
    presign_expires: int = 6 * 3600,
    s3: S3Client | None = None,
) -> ResolvedInputs:
    """Replace every media reference of ``request`` by something Runware accepts; see the module doc.

    Equivalent to :func:`check_media_inputs` followed by :meth:`CheckedInputs.resolve`; call those two
    yourself to decide something (e.g. a budget) between the checks and the uploads.

    :param request: a :class:`WanVideoRequest`, or its snake_case / wire dict (or JSON) — a dict may hold
        local paths and ``s3://`` URIs for videos and audio, which the model itself would refuse.
    :param hook: used for ``mediaStorage`` uploads (``None`` is fine when nothing needs uploading).
    :param scope: idempotency scope of uploads, e.g. ``f"{dag_id}/{task_id}/{run_id}/{map_index}"``:
        the same content in the same scope is stored once, however often the task is retried.
    :param s3_input_mode: ``"upload"`` (default) stores S3 bytes with ``mediaStorage`` / inlines small
        images; ``"presigned_url"`` hands Runware a presigned GET URL valid ``presign_expires`` seconds.
    :param input_video_seconds: seconds of the UUID/URL video inputs (which cannot be probed).
    :param limits: size caps; ``None`` means :data:`DEFAULT_LIMITS`.
    :param s3: an S3 client to use instead of one from the ``aws_conn_id`` connection.
    :raises InvalidRequestError: naming the parameter and source, before any Runware request.
    """
    checked = check_media_inputs(
        request,
        aws_conn_id=aws_conn_id,
        s3_input_mode=s3_input_mode,
        input_video_seconds=input_video_seconds,
        limits=limits,
        presign_expires=presign_expires,
        s3=s3,
    )
    return checked.resolve(hook=hook, scope=scope)


def _total_video_seconds(durations: Sequence[float | None], stated: float | None) -> float | None:
    """Probed seconds of the videos read, plus ``stated`` for the rest; None when some are unknown."""
    probed = sum(d or 0.0 for d in durations)
    if all(d is not None for d in durations):
        return round(probed, 3)
    if stated is None:
        return None
    return round(probed + float(stated), 3)


__all__ = [
    "DEFAULT_LIMITS",
    "CheckedInputs",
    "MediaLimits",
    "ResolvedInputs",
    "ResolvedMedia",
    "S3InputMode",
    "check_media_inputs",
    "classify_reference",
    "is_placeholder",
    "needs_resolution",
    "prevalidate_request",
    "request_values",
    "resolve_media_inputs",
]
