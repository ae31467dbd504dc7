"""Input media: the on-disk media store, and loading a media reference (UUID, URL, data URI, base64).

URLs are fetched only from loopback hosts and the hosts named with ``--allow-host`` (for service names in
a docker-compose network such as ``s3``): the emulator must never contact the outside world, so any
other URL is rejected without a connection attempt (the real API would fetch it).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import av
import httpx

from .settings import normalise_host
from .sniff import ALLOWED_FORMATS, HEAD_BYTES, MediaInfo, MediaKind, image_size, sniff
from .validation import is_http_url, is_uuid

FETCH_TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3


class MediaProblem(Exception):
    """A media reference that cannot be used; ``code`` is the Runware error code to report."""

    def __init__(self, code: str, message: str, allowed_values: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.allowed_values = allowed_values


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name: never resolved, never contacted


def is_loopback_url(url: str) -> bool:
    try:
        return is_http_url(url) and is_loopback_host(urlsplit(url).hostname)
    except ValueError:
        return False


class HostPolicy:
    """Which hosts the emulator may contact: loopback always, plus an explicit allow-list of exact
    names (e.g. docker-compose service names). Names are compared, never resolved, before deciding."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed = frozenset(normalise_host(name) for name in allowed)

    def allows_host(self, host: str | None) -> bool:
        if is_loopback_host(host):
            return True
        return bool(host) and normalise_host(host or "") in self.allowed

    def allows_url(self, url: str) -> bool:
        try:
            return is_http_url(url) and self.allows_host(urlsplit(url).hostname)
        except ValueError:
            return False

    def describe(self) -> str:
        hosts = "loopback hosts (127.0.0.1, ::1, localhost)"
        if self.allowed:
            hosts += " and " + ", ".join(sorted(self.allowed))
        return hosts


@dataclass(frozen=True)
class StoredMedia:
    media_uuid: str
    path: Path
    info: MediaInfo
    size: int


class MediaStore:
    """Uploaded media, one file per UUID; only the index lives in memory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._items: dict[str, StoredMedia] = {}

    def add_file(self, source: Path, info: MediaInfo, media_uuid: str) -> StoredMedia:
        """Move ``source`` into the store (it must be on the same filesystem: scratch dir is inside)."""
        target = self.directory / f"{media_uuid}.{info.ext}"
        os.replace(source, target)
        item = StoredMedia(media_uuid, target, info, target.stat().st_size)
        self._items[media_uuid] = item
        return item

    def add_bytes(self, data: bytes, info: MediaInfo, media_uuid: str) -> StoredMedia:
        target = self.directory / f"{media_uuid}.{info.ext}"
        target.write_bytes(data)
        item = StoredMedia(media_uuid, target, info, len(data))
        self._items[media_uuid] = item
        return item

    def get(self, media_uuid: str) -> StoredMedia | None:
        return self._items.get(media_uuid.lower())

    def delete(self, media_uuid: str) -> bool:
        item = self._items.pop(media_uuid.lower(), None)
        if item is None:
            return False
        item.path.unlink(missing_ok=True)
        return True

    def clear(self) -> None:
        for item in self._items.values():
            item.path.unlink(missing_ok=True)
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class LoadedMedia:
    """A resolved reference: either a file (stored or fetched) or inline bytes."""

    info: MediaInfo
    head: bytes
    path: Path | None = None
    data: bytes | None = None
    temporary: bool = False

    def image_size(self) -> tuple[int, int] | None:
        return image_size(self.head) if self.info.kind == "image" else None

    def discard(self) -> None:
        if self.temporary and self.path is not None:
            self.path.unlink(missing_ok=True)


def decode_inline(ref: str) -> bytes:
    """Bytes of a data URI (``data:<mime>;base64,...``) or of plain base64."""
    payload = ref
    if ref.startswith("data:"):
        header, sep, payload = ref.partition(",")
        if not sep or not header.endswith(";base64"):
            raise MediaProblem("invalidMediaData", "Data URIs must be of the form data:<mime>;base64,<data>.")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaProblem(
            "invalidMediaData", f"Media is neither a UUID, a URL nor valid base64: {exc}"
        ) from exc


def check_kind(info: MediaInfo | None, kind: MediaKind) -> MediaInfo:
    allowed = list(ALLOWED_FORMATS[kind])
    if info is None or info.kind != kind:
        found = info.format if info else "unrecognised data"
        raise MediaProblem(
            "unsupportedMediaFormat",
            f"Expected {kind} media ({', '.join(allowed)}), got {found}.",
            allowed_values=allowed,
        )
    return info


class MediaLoader:
    """Resolves media references into ``LoadedMedia``; fetched files go to a scratch dir."""

    def __init__(
        self, store: MediaStore, scratch_dir: Path, max_bytes: int, hosts: HostPolicy | None = None
    ) -> None:
        self.store = store
        self.scratch_dir = scratch_dir
        self.max_bytes = max_bytes
        self.hosts = hosts if hosts is not None else HostPolicy()
        scratch_dir.mkdir(parents=True, exist_ok=True)

    async def load(self, ref: str, *, kind: MediaKind | None, allow_inline: bool) -> LoadedMedia:
        """Resolve ``ref``; ``kind`` None accepts any recognised medium (mediaStorage uploads)."""
        if is_uuid(ref):
            stored = self.store.get(ref)
            if stored is None:
                raise MediaProblem("mediaNotFound", f"No stored media with UUID {ref}.")
            info = stored.info if kind is None else check_kind(stored.info, kind)
            with stored.path.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
            return LoadedMedia(info, head, path=stored.path)
        if ref.lower().startswith(("http://", "https://")):
            path = await self.fetch(ref)
            with path.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
            media = LoadedMedia(sniff(head) or _UNKNOWN, head, path=path, temporary=True)
            return self._checked(media, kind)
        if not allow_inline:
            raise MediaProblem("invalidMediaURL", "This input takes a media UUID or an http(s) URL.")
        data = decode_inline(ref)
        if len(data) > self.max_bytes:
            raise MediaProblem("invalidMediaSize", f"Media larger than {self.max_bytes} bytes.")
        head = data[:HEAD_BYTES]
        return self._checked(LoadedMedia(sniff(head) or _UNKNOWN, head, data=data), kind)

    @staticmethod
    def _checked(media: LoadedMedia, kind: MediaKind | None) -> LoadedMedia:
        try:
            if media.info is _UNKNOWN:
                raise MediaProblem(
                    "unsupportedMediaFormat",
                    "Unrecognised media format (supported: PNG, JPEG, WEBP, MP4, MOV, WEBM, MP3, WAV, FLAC).",
                )
            if kind is not None:
                check_kind(media.info, kind)
        except MediaProblem:
            media.discard()
            raise
        return media

    async def fetch(self, url: str) -> Path:
        """Download an allowed URL into the scratch dir (redirects followed only to allowed hosts)."""
        target = self.scratch_dir / f"fetch-{uuid.uuid4().hex}"
        current = url
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, trust_env=False) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    if not self.hosts.allows_url(current):
                        raise MediaProblem(
                            "invalidMediaURL",
                            f"The emulator only fetches URLs of {self.hosts.describe()}: {current}",
                        )
                    async with client.stream("GET", current) as response:
                        if response.is_redirect and "location" in response.headers:
                            current = urljoin(current, response.headers["location"])
                            continue
                        if response.status_code != 200:
                            raise MediaProblem(
                                "invalidMediaURL", f"Fetching {current} returned HTTP {response.status_code}."
                            )
                        await self._save(response, target)
                        return target
                raise MediaProblem("invalidMediaURL", f"Too many redirects fetching {url}.")
        except httpx.HTTPError as exc:
            target.unlink(missing_ok=True)
            raise MediaProblem("invalidMediaURL", f"Could not fetch {url}: {exc!r}") from exc
        except MediaProblem:
            target.unlink(missing_ok=True)
            raise

    async def _save(self, response: httpx.Response, target: Path) -> None:
        total = 0
        with target.open("wb") as handle:
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > self.max_bytes:
                    raise MediaProblem("invalidMediaSize", f"Media larger than {self.max_bytes} bytes.")
                handle.write(chunk)

    def clear_scratch(self) -> None:
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
        self.scratch_dir.mkdir(parents=True, exist_ok=True)


_UNKNOWN = MediaInfo("image", "unknown", "application/octet-stream", "bin")


def probe_duration(path: Path) -> float | None:
    """Seconds of a video file according to its container (blocking; run in a worker thread)."""
    try:
        with av.open(str(path)) as container:
            if container.duration:
                return float(container.duration) / 1_000_000
            for stream in container.streams.video:
                if stream.duration and stream.time_base:
                    return float(stream.duration * stream.time_base)
    except (av.FFmpegError, OSError, ValueError):
        return None
    return None
