"""What of a URL may be shown: query strings and userinfo carry tokens (presigned S3 URLs, webhook
secrets, CDN signatures). Registers them with Airflow's secrets masker (rendered template fields and task
logs show ``***``) and strips them from httpx's own request log lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

_URL_RE: Final = re.compile(r"""(?i)\b(https?|wss?)://[^\s"'<>]+""")
# Query parameters whose value is a credential on its own (masked wherever it shows, not only in the URL).
_SECRET_PARAM_RE: Final = re.compile(r"(?i)sig|token|key|cred|secret|pass|auth|code")
#: httpx logs each request's full URL at INFO; httpcore's loggers trace connections at DEBUG.
HTTP_LOGGERS: Final = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


def redact_urls(text: str) -> str:
    """``text`` with the userinfo and query string of every URL in it replaced by ``***``."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        head, sep, _ = url.partition("?")
        scheme, _, rest = head.partition("://")
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rsplit("@", 1)[1]
        return f"{scheme}://{authority}{slash}{path}" + ("?***" if sep else "")

    return _URL_RE.sub(one, text)


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` to mask: its query string, the values of credential-like query parameters
    and the password of its userinfo. Empty for a URL without any."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return []
    found = [parts.query] if parts.query else []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=False) if _SECRET_PARAM_RE.search(k)]
    found += [password] if password else []
    return found


def urls_in(value: Any) -> Iterator[str]:
    """Every http(s) URL in a rendered value (strings, and strings nested in mappings and sequences)."""
    if isinstance(value, str):
        yield from (m.group(0) for m in _URL_RE.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from urls_in(item)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        for item in value:
            yield from urls_in(item)


def mask(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker (task process and supervisor)."""
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


async def amask(secret: str) -> None:
    """:func:`mask` for the event loop (a triggerer): Airflow's async API where it has one (3.2+)."""
    from airflow.sdk import log

    amask_secret = getattr(log, "amask_secret", None)
    if amask_secret is None:
        log.mask_secret(secret)
    else:
        await amask_secret(secret)


def mask_url_tokens(value: Any) -> None:
    """Mask the query strings (and userinfo passwords) of every URL in ``value``."""
    for url in urls_in(value):
        for secret in url_secrets(url):
            mask(secret)


class UrlTokenFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact_urls` (httpx logs ``HTTP Request: GET <full URL>``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER: Final = UrlTokenFilter()


def redact_http_logs() -> None:
    """Install :class:`UrlTokenFilter` on httpx's and httpcore's loggers (idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
