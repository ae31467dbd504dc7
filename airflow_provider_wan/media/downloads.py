"""Fetch result videos safely: the one download policy (:class:`DownloadPolicy`) and the one fetcher.

A ``videoURL`` comes from Runware's answer, and its CDN may redirect: neither is trusted. So https only;
every connection is checked on its *resolved* address before it is opened (public addresses only; never
a cloud metadata address), which covers every redirect, and redirects are followed here, a bounded number
of times; the first bytes must be a video container before anything is landed; a size cap and an overall
deadline bound each download. Plain http and otherwise refused networks (the local emulator on
127.0.0.1) are allowed only when the ``runware`` connection says so (:data:`EXTRAS`). Environment
proxies are not used: the addresses checked must be the ones connected to.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from airflow_provider_wan.errors import RunwareError, RunwareTransportError
from airflow_provider_wan.media.formats import SNIFF_BYTES, sniff

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_BYTES = 1024**3  # 1 GiB: a 15 s 1080p Wan2.7 video is a few dozen MB
DEFAULT_DEADLINE_SECONDS = 900.0  # one download, connect to last byte, redirects included
DEFAULT_MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0  # one stalled read; the deadline bounds the whole download
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: The connection extras (name → what it sets), documented in the README's "Download policy".
EXTRAS = {
    "download_allow_http": "allow_http",
    "download_allowed_networks": "allowed_networks",
    "download_max_bytes": "max_bytes",
    "download_deadline_seconds": "deadline_seconds",
    "download_max_redirects": "max_redirects",
}
# Instance credentials live here: refused even inside an allowed network.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class DownloadRefused(RunwareError):
    """The download policy said no (address, scheme, size, content): never retried."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", "downloadRefused")
        kwargs.setdefault("category", "validation")
        kwargs.setdefault("retryable", False)
        super().__init__(message, **kwargs)


def host_of(url: str | httpx.URL) -> str:
    """Only the host, for messages: result URLs may carry tokens in their query."""
    try:
        return httpx.URL(url).host or "<no host>"
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def parse_networks(spec: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` or a list of CIDRs (a bare address is its own /32 or /128)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in items if str(item).strip())


def refusal(ip: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``ip`` may not be fetched from, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.version == 4 and ip in _CGNAT, "a shared (CGNAT) address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


@dataclass(frozen=True)
class DownloadPolicy:
    """What a result download may do. The defaults are the safe ones; see :data:`EXTRAS`."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    def __post_init__(self) -> None:
        for name in ("max_bytes", "deadline_seconds"):
            if not getattr(self, name) > 0:
                raise _bad_setting(name, "must be greater than 0")
        if self.max_redirects < 0:
            raise _bad_setting("max_redirects", "must be 0 or more")

    @classmethod
    def from_extras(cls, extra: Mapping[str, Any]) -> DownloadPolicy:
        """The policy of a ``runware`` connection's extras (absent, null or empty: the default)."""
        kwargs: dict[str, Any] = {}
        for name, attr in EXTRAS.items():
            value = extra.get(name)
            if value is None or value == "":
                continue
            try:
                kwargs[attr] = _convert(attr, value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise _bad_setting(attr, f"cannot use {str(value)[:80]!r}: {exc}") from None
        return cls(**kwargs)

    @property
    def url_schemes(self) -> tuple[str, ...]:
        return ("http", "https") if self.allow_http else ("https",)

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """The URL, when its scheme and (literal) host may be fetched; names are checked on connect."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise DownloadRefused("the URL is not a valid URL") from None
        if parsed.scheme not in self.url_schemes:
            hint = "" if self.allow_http else " (plain http needs the connection extra download_allow_http)"
            raise DownloadRefused(f"the {parsed.scheme or 'missing'} scheme is not allowed{hint}")
        if not parsed.host:
            raise DownloadRefused("the URL has no host")
        with contextlib.suppress(ValueError):
            self.check_address(ipaddress.ip_address(parsed.host), parsed.host)
        return parsed

    def check_address(self, ip: IPAddress, host: str) -> None:
        reason = refusal(ip, self.allowed_networks)
        if reason is not None:
            raise DownloadRefused(
                f"refusing {host} ({ip}): {reason}. Result downloads go to public addresses only; the "
                "connection extra download_allowed_networks lists exceptions."
            )

    def resolve(self, host: str, port: int) -> str:
        """The address to connect to: every address ``host`` resolves to must be allowed."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        for ip in addresses:
            self.check_address(ip, host)
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        return str(addresses[0])


def _convert(attr: str, value: Any) -> Any:
    if attr == "allow_http":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("expected true or false")
        return text in ("true", "1", "yes")
    if attr == "allowed_networks":
        return parse_networks(value)
    if isinstance(value, bool):
        raise TypeError("expected a number")
    number = float(value)
    return int(number) if attr in ("max_bytes", "max_redirects") else number


def _bad_setting(attr: str, reason: str) -> RunwareError:
    name = next((extra for extra, field in EXTRAS.items() if field == attr), attr)
    return RunwareError(
        f"Download setting {name} {reason}", code="invalidConnection", category="validation", parameter=name
    )


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the policy allows, checked after resolution: every
    connection of the client, so every redirect target, and no second lookup that could answer otherwise."""

    def __init__(self, policy: DownloadPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self._policy.resolve(host, port)
        # TLS still verifies the certificate against the URL's host name (httpcore passes it as SNI).
        return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise DownloadRefused("Result downloads never use Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: DownloadPolicy) -> None:
        super().__init__(trust_env=False)
        # httpx has no public way to pass a network backend: swap the pool it built for one that has it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=_GuardedBackend(policy)
        )


class Download(io.RawIOBase):
    """A response body as a file for boto3: hashes and counts the bytes as they are read, and fails
    (retryably) when they disagree with the announced Content-Length or the connection drops, and for
    good past the size cap or the deadline. :meth:`prime` checks the first bytes before anything is
    handed on."""

    def __init__(
        self,
        response: httpx.Response,
        what: str,
        policy: DownloadPolicy,
        deadline: float,
        task_uuid: str | None,
    ) -> None:
        super().__init__()
        self.task_uuid = task_uuid
        self.expected = content_length(response)
        self.sha256 = hashlib.sha256()
        self.received = 0
        self._chunks: Iterator[bytes] = response.iter_raw()
        self._pending = memoryview(b"")
        self._what = what
        self._policy = policy
        self._deadline = deadline
        self._content_type = response.headers.get("Content-Type", "")[:60]

    def readable(self) -> bool:
        return True

    def _fail(self, reason: str) -> RunwareTransportError:
        return RunwareTransportError(
            f"Downloading {self._what}: {reason}", category="transport", task_uuid=self.task_uuid
        )

    def _next_chunk(self) -> bytes | None:
        try:
            chunk = next(self._chunks, None)
        except httpx.HTTPError as exc:
            raise self._fail(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        if time.monotonic() > self._deadline:
            raise RunwareError(
                f"Downloading {self._what} took longer than its deadline of "
                f"{self._policy.deadline_seconds:g} s (connection extra download_deadline_seconds)",
                code="downloadDeadline",
                category="timeout",
                retryable=False,
                task_uuid=self.task_uuid,
            )
        if chunk is None:
            if self.expected is not None and self.received != self.expected:
                raise self._fail(f"received {self.received} of the announced {self.expected} bytes")
            return None
        self.sha256.update(chunk)
        self.received += len(chunk)
        if self.received > self._policy.max_bytes:
            raise _too_big(self._what, self._policy, self.task_uuid)
        if self.expected is not None and self.received > self.expected:
            raise self._fail(f"received more than the announced Content-Length {self.expected}")
        return chunk

    def prime(self) -> Download:
        """Read the first bytes and refuse anything but a video container (nothing is handed on yet)."""
        if self.expected is not None and self.expected > self._policy.max_bytes:
            raise _too_big(self._what, self._policy, self.task_uuid, f" (it announces {self.expected})")
        head = b""
        while len(head) < SNIFF_BYTES and (chunk := self._next_chunk()) is not None:
            head += chunk
        fmt = sniff(head[:SNIFF_BYTES])
        if fmt is None or fmt.kind != "video":
            # Name the declared type only: the body is the server's, not something to echo.
            raise DownloadRefused(
                f"Downloading {self._what}: the body is not a video container (MP4, MOV, WebM or MKV); "
                f"its Content-Type is {self._content_type or 'absent'!r}",
                task_uuid=self.task_uuid,
            )
        self._pending = memoryview(head)
        return self

    def readinto(self, target: Any) -> int:
        while not self._pending:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        out = memoryview(target).cast("B")
        count = min(len(out), len(self._pending))
        out[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _too_big(what: str, policy: DownloadPolicy, task_uuid: str | None, detail: str = "") -> DownloadRefused:
    return DownloadRefused(
        f"Downloading {what}: larger than the cap of {policy.max_bytes} bytes{detail} "
        "(connection extra download_max_bytes)",
        task_uuid=task_uuid,
    )


def content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    identity = response.headers.get("Content-Encoding", "identity").lower() in ("identity", "")
    return int(value) if identity and value.isdigit() else None


@dataclass(frozen=True)
class Fetched:
    """An answer at the end of the redirects: check ``response.status_code``, then read :meth:`body`."""

    response: httpx.Response
    what: str
    policy: DownloadPolicy
    deadline: float
    task_uuid: str | None = None

    def body(self) -> Download:
        return Download(self.response, self.what, self.policy, self.deadline, self.task_uuid).prime()


class Fetcher:
    """One HTTP client that downloads by the policy (use as a context manager, or :meth:`close`); its
    errors name ``task_uuid``."""

    def __init__(self, policy: DownloadPolicy, task_uuid: str | None = None) -> None:
        self.policy = policy
        self.task_uuid = task_uuid
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        transport = _GuardedTransport(policy)
        self._http = httpx.Client(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @contextlib.contextmanager
    def open(self, method: str, url: str, what: str) -> Iterator[Fetched]:
        """Send ``method`` and follow redirects (each target checked like the first URL); the answer is
        streamed and closed on exit. Transport failures become a retryable ``RunwareTransportError``."""
        deadline = time.monotonic() + self.policy.deadline_seconds
        try:
            response = self._follow(method, url, deadline)
        except DownloadRefused as exc:
            raise DownloadRefused(f"Downloading {what}: {exc.message}", task_uuid=self.task_uuid) from None
        except httpx.HTTPError as exc:
            raise RunwareTransportError(
                f"Downloading {what} from {host_of(url)}: {type(exc).__name__}: {str(exc)[:160]}",
                category="transport",
                task_uuid=self.task_uuid,
            ) from None
        try:
            yield Fetched(response, what, self.policy, deadline, self.task_uuid)
        finally:
            response.close()

    def _follow(self, method: str, url: str, deadline: float) -> httpx.Response:
        target = self.policy.check_url(url)
        for _ in range(self.policy.max_redirects + 1):
            remaining = deadline - time.monotonic()
            timeout = httpx.Timeout(min(READ_TIMEOUT, remaining), connect=min(CONNECT_TIMEOUT, remaining))
            headers = {"Accept-Encoding": "identity"}
            request = self._http.build_request(method, target, headers=headers, timeout=timeout)
            response = self._http.send(request, stream=True)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            target = self.policy.check_url(response.url.join(location))
        raise DownloadRefused(
            f"more than {self.policy.max_redirects} redirects (connection extra download_max_redirects)"
        )

    def size(self, url: str, what: str) -> int | None:
        """Content-Length by HEAD, or None when unknown or refused (a plausibility check only)."""
        try:
            with self.open("HEAD", url, what) as fetched:
                ok = fetched.response.status_code == 200
                return content_length(fetched.response) if ok else None
        except RunwareError:
            return None
