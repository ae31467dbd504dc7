"""Checks before money: read what each media reference points at, sniff its format, cap its size and probe
its video seconds, before anything is sent to Runware (a bad input raises ``InvalidRequestError`` naming
the wire parameter and the source; a budget can use the probed seconds before :mod:`.uploads` spends).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.media.formats import ALLOWED, SNIFF_BYTES, describe_head, sniff
from airflow_provider_wan.media.local import OutsideRoots, local_path, local_roots
from airflow_provider_wan.media.references import (
    B64_RE,
    UNSUPPORTED_SCHEME,
    Reference,
    S3InputMode,
    b64_head,
    b64_size,
)
from airflow_provider_wan.media.s3 import (
    DENIED_CODES,
    NOT_FOUND_CODES,
    error_code,
    parse_s3_uri,
    s3_client,
    s3_failure,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.media.formats import MediaFormat, MediaKind
    from airflow_provider_wan.media.s3 import S3Location
    from airflow_provider_wan.media.uploads import ResolvedInputs
    from airflow_provider_wan.models import WanVideoRequest

log = logging.getLogger(__name__)

MiB = 1024 * 1024


@dataclass(frozen=True)
class MediaLimits:
    """Size caps per kind (bytes) and the inline threshold for images read from files or S3. Runware
    documents no limits; these keep a worker's memory bounded (an upload holds the file about 3 times)."""

    max_image_bytes: int = 20 * MiB
    max_video_bytes: int = 200 * MiB
    max_audio_bytes: int = 50 * MiB
    inline_image_max_bytes: int = 5 * MiB

    def max_bytes(self, kind: MediaKind) -> int:
        return int(getattr(self, f"max_{kind}_bytes"))


DEFAULT_LIMITS = MediaLimits()


@dataclass
class Checked:
    """One reference after its checks: what it is, and where its bytes are for the upload step."""

    ref: Reference
    source: str  # safe to log: no query strings, no base64
    fmt: MediaFormat | None = None
    size: int | None = None
    duration: float | None = None
    location: S3Location | None = None
    path: Path | None = None
    data: bytes | None = None  # decoded inline video/audio
    digest: str | None = None  # the content of a file or S3 object, for the request's identity


@dataclass(frozen=True)
class CheckedInputs:
    """Every reference of ``request`` checked, nothing sent yet; :meth:`resolve` spends.
    ``input_video_seconds``: probed plus caller-stated (UUID/URL) seconds; ``None`` if some are unknown."""

    request: WanVideoRequest
    input_video_seconds: float | None
    items: tuple[Checked, ...]
    checker: Checker

    @property
    def content_digest(self) -> tuple[str, ...]:
        """What the local and S3 inputs hold (SHA-256 of a file; ETag and VersionId of an object), in
        reference order: a path or key names a place, and its bytes can be replaced."""
        return tuple(f"{c.ref.parameter}={c.digest}" for c in self.items if c.digest is not None)

    def resolve(self, *, hook: RunwareHook | None, scope: str) -> ResolvedInputs:
        """Upload / inline / presign every reference (:func:`.uploads.resolve`)."""
        from airflow_provider_wan.media.uploads import resolve

        return resolve(self, hook=hook, scope=scope)


def invalid(ref: Reference, source: str, message: str, code: str, allowed: Any = None) -> InvalidRequestError:
    return InvalidRequestError(
        f"{source}: {message}", parameter=ref.parameter, code=code, allowed_values=allowed
    )


def check_format(ref: Reference, source: str, head: bytes, declared_mime: str | None = None) -> MediaFormat:
    fmt = sniff(head)
    if fmt is None or fmt.kind != ref.kind:
        message = f"not a supported {ref.kind}: found " + (
            f"{fmt.name} ({fmt.kind})" if fmt else describe_head(head)
        )
    elif declared_mime and declared_mime.lower() not in {fmt.mime, *fmt.aliases}:
        message = f"declares {declared_mime} but the bytes are {fmt.name}"
    else:
        return fmt
    raise invalid(ref, source, message, "unsupportedMediaFormat", ALLOWED[ref.kind])


def check_size(ref: Reference, source: str, size: int, limits: MediaLimits) -> None:
    limit = limits.max_bytes(ref.kind)
    if size == 0 or size > limit:
        message = "is empty" if size == 0 else f"{size} bytes exceeds the {ref.kind} limit of {limit} bytes"
        raise invalid(ref, source, message, "invalidMediaSize")


def _safe_url(url: str) -> str:
    """Scheme, host and path only: query strings may carry credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    text = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    return text if len(text) <= 100 else text[:97] + "..."


@dataclass
class Checker:
    """Checks references one by one; keeps the S3 client and the limits for the upload step."""

    aws_conn_id: str | None
    mode: S3InputMode
    limits: MediaLimits
    presign_expires: int
    client: S3Client | None
    roots: tuple[Path, ...] = ()  # where local files may be read from (:func:`.local.local_roots`)

    @property
    def s3(self) -> S3Client:
        if self.client is None:
            self.client = s3_client(self.aws_conn_id)
        return self.client

    def check(self, ref: Reference) -> Checked:
        value = ref.value.strip()
        if ref.form == "uuid":
            return Checked(ref, source=f"media UUID {value}")
        if ref.form == "url":
            return Checked(ref, source=_safe_url(value))
        if ref.form == "unsupported":  # only a strict (wire) image gets here: the model refuses it otherwise
            raise invalid(
                ref, f"{value.split('://', 1)[0]}:// reference", UNSUPPORTED_SCHEME, "invalidMediaReference"
            )
        if ref.form == "s3":
            return self._check_s3(ref)
        return self._check_file(ref) if ref.form == "file" else self._check_inline(ref)

    def _check_inline(self, ref: Reference) -> Checked:
        value = ref.value.strip()
        declared: str | None = None
        payload, source = value, "base64 string"
        if ref.form == "data_uri":
            header, sep, payload = value.partition(",")
            source = "data URI"
            if not sep or not header.lower().endswith(";base64"):
                raise invalid(
                    ref, source, "must be of the form data:<mime>;base64,<data>", "invalidMediaData"
                )
            # "data:image/png;name=a.png;base64": only the MIME type itself counts.
            declared = header[len("data:") : -len(";base64")].split(";", 1)[0].strip() or None
        head = b64_head(payload)
        if head is None or not B64_RE.fullmatch(payload):
            raise invalid(ref, source, "is not valid base64", "invalidMediaData")
        size = b64_size(payload)
        source = f"{source} ({size} bytes)"
        check_size(ref, source, size, self.limits)
        checked = Checked(ref, source, fmt=check_format(ref, source, head, declared), size=size)
        if ref.kind != "image":
            # Videos and audio cannot go inline: decode now (fully validated) and upload later.
            try:
                checked.data = base64.b64decode("".join(payload.split()), validate=True)
            except (binascii.Error, ValueError):
                raise invalid(ref, source, "is not valid base64", "invalidMediaData") from None
            if ref.kind == "video":
                checked.duration = _probe(ref, source, io.BytesIO(checked.data))
        return checked

    def _check_file(self, ref: Reference) -> Checked:
        given = ref.value.strip()
        source = given if len(given) <= 160 else given[:150] + "..."
        try:
            path = local_path(given, self.roots)
        except OutsideRoots as exc:
            raise invalid(ref, source, str(exc), "mediaNotAllowed") from None
        except ValueError as exc:
            raise invalid(ref, source[:100], str(exc), "invalidMediaReference") from None
        except (OSError, RuntimeError):  # not there, or a symlink loop: either way nothing to read
            hint = "" if os.path.isabs(given) else " (relative to the worker's current directory)"
            raise invalid(ref, source, "file not found" + hint, "mediaNotFound") from None
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "is not a regular file"
            raise invalid(ref, source, what, "mediaNotFound")
        with _file_errors(ref, source):
            size = path.stat().st_size
            check_size(ref, source, size, self.limits)
            with path.open("rb") as handle:
                head = handle.read(SNIFF_BYTES)
        checked = Checked(ref, source, fmt=check_format(ref, source, head), size=size, path=path)
        checked.digest = _file_digest(ref, source, path)
        if ref.kind == "video":
            checked.duration = _probe(ref, source, str(path))
        return checked

    def _check_s3(self, ref: Reference) -> Checked:
        location = parse_s3_uri(ref.value.strip(), parameter=ref.parameter)
        source, bucket, key = location.uri, location.bucket, location.key
        with self.s3_errors(ref, source):
            meta = self.s3.head_object(Bucket=bucket, Key=key)
        size = int(meta.get("ContentLength", 0))
        check_size(ref, source, size, self.limits)
        with self.s3_errors(ref, source):
            head_range = f"bytes=0-{SNIFF_BYTES - 1}"
            head = self.s3.get_object(Bucket=bucket, Key=key, Range=head_range)["Body"].read()
        # ETag changes with the bytes; VersionId (versioned buckets) with every write.
        digest = f"etag:{meta.get('ETag', '')};version:{meta.get('VersionId', '')}"
        checked = Checked(
            ref, source, fmt=check_format(ref, source, head), size=size, location=location, digest=digest
        )
        if ref.kind == "video":
            raw = _S3RangeReader(self.s3, location, size)
            try:
                checked.duration = _probe(ref, source, io.BufferedReader(raw, buffer_size=1 * MiB))
            except Exception:
                if raw.error is not None:  # S3 failed under PyAV's feet: report that, not a bad video
                    raise s3_error(ref, source, raw.error) from None
                raise
        return checked

    @contextmanager
    def s3_errors(self, ref: Reference, source: str) -> Iterator[None]:
        """S3 failures as errors naming the parameter (:func:`s3_error`)."""
        try:
            yield
        except Exception as exc:
            raise s3_error(ref, source, exc) from None

    def read(self, checked: Checked) -> bytes:
        """The bytes to upload, checked again: the file or object may have changed since its check."""
        ref, source = checked.ref, checked.source
        if checked.data is not None:
            return checked.data
        limit = self.limits.max_bytes(ref.kind)
        if checked.path is not None:
            with _file_errors(ref, source), checked.path.open("rb") as handle:
                data = handle.read(limit + 1)
        else:
            assert checked.location is not None
            bucket, key = checked.location.bucket, checked.location.key
            with self.s3_errors(ref, source):
                data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read(limit + 1)
        check_size(ref, source, len(data), self.limits)
        check_format(ref, source, data[:SNIFF_BYTES])
        if checked.path is not None and checked.digest != f"sha256:{hashlib.sha256(data).hexdigest()}":
            # The request's identity was taken from the checked bytes: never send other ones under it.
            raise invalid(ref, source, "changed while the task ran; retry", "mediaChanged")
        return data


@contextmanager
def _file_errors(ref: Reference, source: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise invalid(ref, source, f"cannot be read: {exc.strerror or exc}", "mediaNotReadable") from None


def _file_digest(ref: Reference, source: str, path: Path) -> str:
    """SHA-256 of a checked file (its size is capped): the bytes, not the path, are the identity."""
    digest = hashlib.sha256()
    with _file_errors(ref, source), path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def s3_error(ref: Reference, source: str, exc: BaseException) -> RunwareError:
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        what = "bucket not found" if code == "NoSuchBucket" else "object not found"
        return invalid(ref, source, what, "mediaNotFound")
    if code in DENIED_CODES:
        return invalid(ref, source, f"access denied ({code})", "mediaNotReadable")
    if code == "InvalidRange":
        return invalid(ref, source, "is empty", "invalidMediaSize")
    # Anything else (throttling, 5xx, endpoint unreachable) is transient: the task may retry.
    return s3_failure(f"{ref.parameter}: reading {source} from S3", exc, parameter=ref.parameter)


class _S3RangeReader(io.RawIOBase):
    """Seekable read-only view of an S3 object through ranged GETs, so PyAV can probe a remote video
    (reading its headers and index) without downloading it."""

    def __init__(self, client: S3Client, location: S3Location, size: int) -> None:
        super().__init__()
        self._client, self._location, self._size = client, location, size
        self._pos = 0
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    seekable = readable

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = max(0, {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence] + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        bucket, key, byte_range = self._location.bucket, self._location.key, f"bytes={self._pos}-"
        byte_range += str(min(self._size, self._pos + len(view)) - 1)
        try:
            body = self._client.get_object(Bucket=bucket, Key=key, Range=byte_range)["Body"].read()
        except Exception as exc:
            self.error = exc
            raise OSError(f"ranged GET failed: {type(exc).__name__}") from exc
        view[: len(body)] = body
        self._pos += len(body)
        return len(body)


def pyav_available() -> bool:
    """Whether PyAV, which measures input videos, can be imported (the ``media`` extra brings it)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _probe(ref: Reference, source: str, media: str | BinaryIO) -> float | None:
    """Seconds of a video from its container headers (PyAV, imported lazily); None when unknown.

    A file that PyAV cannot open at all is rejected: Runware would fail on it after accepting the task.
    """
    if not pyav_available():  # without it the length is unknown: a budget then needs input_video_seconds
        log.warning("PyAV is not installed (the 'media' extra): the length of %s is unknown", ref.parameter)
        return None
    import av

    try:
        with av.open(media, mode="r") as container:
            if container.duration:
                return round(float(container.duration) / 1_000_000, 3)
            for stream in container.streams.video:
                if stream.duration and stream.time_base:
                    return round(float(stream.duration * stream.time_base), 3)
    except av.FFmpegError as exc:
        raise invalid(
            ref, source, f"cannot be read as a video ({str(exc)[:120]})", "invalidMediaData"
        ) from None
    return None


def check_media_inputs(
    request: WanVideoRequest | Mapping[str, Any] | str,
    *,
    aws_conn_id: str | None = "aws_default",
    s3_input_mode: S3InputMode = "upload",
    input_video_seconds: float | None = None,
    limits: MediaLimits | None = None,
    presign_expires: int = 6 * 3600,
    s3: S3Client | None = None,
    allowed_local_roots: Sequence[str | os.PathLike[str]] | str | None = None,
) -> CheckedInputs:
    """Check every media reference of ``request`` and probe its videos; no Runware request.

    :param request: a validated request, or anything :meth:`WanVideoRequest.from_any` takes.
    :param input_video_seconds: seconds of the UUID/URL video inputs (which cannot be probed).
    :param limits: size caps; ``None`` means :data:`DEFAULT_LIMITS` (looked up at call time).
    :param allowed_local_roots: folders local files may be read from; ``None``: :func:`.local.local_roots`.
    :raises InvalidRequestError: naming the parameter and source.
    """
    from airflow_provider_wan.models import WanVideoRequest

    if s3_input_mode not in ("upload", "presigned_url"):
        raise InvalidRequestError(
            f"unknown s3_input_mode {s3_input_mode!r}",
            parameter="s3_input_mode",
            allowed_values=["upload", "presigned_url"],
        )
    validated = WanVideoRequest.from_any(request)
    checker = Checker(aws_conn_id, s3_input_mode, limits or DEFAULT_LIMITS, presign_expires, s3)
    if any(ref.form == "file" for ref in validated.media_references):
        checker.roots = local_roots(allowed_local_roots)
    items = tuple(checker.check(ref) for ref in validated.media_references)
    durations = [c.duration for c in items if c.ref.kind == "video"]
    stated = input_video_seconds if None in durations else 0.0  # the caller's seconds cover unprobed videos
    seconds = None if stated is None else round(sum(d or 0.0 for d in durations) + float(stated), 3)
    return CheckedInputs(request=validated, input_video_seconds=seconds, items=items, checker=checker)
