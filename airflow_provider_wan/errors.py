"""One exception hierarchy for everything Runware (and our own pre-flight checks) can say no to.

Runware reports errors as ``{code, message, parameter, taskUUID, documentation, ...}`` with an HTTP status
that carries the category. Codes are many and grow over time, so they are bucketed into a small, stable
taxonomy (:data:`Category`) while the raw ``code`` stays visible to users.

``conflict*`` codes (and HTTP 409) are ``validation``, as Runware documents them. They still get their own
class, :class:`RunwareConflictError`, because a reused taskUUID is how idempotent resubmission is detected:
callers catch the class (or test ``code``), never a category of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Category = Literal[
    "auth",
    "quota",
    "validation",
    "rate_limit",
    "safety",
    "provider",
    "timeout",
    "not_found",
    "server",
    "transport",
]

_HTTP_CATEGORY: dict[int, Category] = {
    400: "validation",
    401: "auth",
    402: "quota",
    403: "auth",
    404: "not_found",
    408: "timeout",
    409: "validation",
    422: "validation",
    429: "rate_limit",
}

_EXACT_CODES: dict[str, Category] = {
    "invalidApiKey": "auth",
    "missingApiKey": "auth",
    "unauthorized": "auth",
    "forbidden": "auth",
    "accountSuspended": "auth",
    "insufficientCredits": "quota",
    "quotaExceeded": "quota",
    "paymentRequired": "quota",
    "rateLimitExceeded": "rate_limit",
    "inferenceRateLimitExceeded": "rate_limit",
    "providerRateLimitExceeded": "rate_limit",
    "contentPolicyViolation": "safety",
    "sensitiveContentDetected": "safety",
    "nsfwContentDetected": "safety",
    "promptBlocked": "safety",
    "inferenceError": "provider",
    "processingFailed": "provider",
    "taskFailed": "provider",
    "noAvailableServer": "provider",
    "modelUnavailable": "provider",
    "timeoutProvider": "timeout",
    "taskNotFound": "not_found",
    "taskExpired": "not_found",
    "mediaNotFound": "not_found",
    "mediaExpired": "not_found",
    "conflictTaskUUID": "validation",
    "unknownParameter": "validation",
    "incompatibleParameters": "validation",
}

# Categories worth another attempt with the same request. A provider timeout is transient by nature
# (the official SDK wrongly treats it as fatal); a retry of a *generation* still needs a new taskUUID.
_RETRYABLE: frozenset[Category] = frozenset({"rate_limit", "server", "transport", "timeout", "provider"})


def classify(code: str | None, http_status: int | None = None) -> Category:
    """Bucket a raw Runware error code (or, failing that, an HTTP status) into a :data:`Category`."""
    if code:
        if code in _EXACT_CODES:
            return _EXACT_CODES[code]
        lowered = code.lower()
        if "timeout" in lowered:
            return "timeout"
        if "ratelimit" in lowered:
            return "rate_limit"
        if any(word in lowered for word in ("credit", "quota", "balance", "payment")):
            return "quota"
        if lowered.startswith("provider"):
            return "provider"
        if lowered.startswith(("invalid", "missing", "unsupported", "unknown", "incompatible", "conflict")):
            return "validation"
        if "notfound" in lowered or "expired" in lowered:
            return "not_found"
    if http_status is not None:
        if http_status in _HTTP_CATEGORY:
            return _HTTP_CATEGORY[http_status]
        if http_status >= 500:
            return "server"
    return "provider" if code else "server"


class RunwareError(Exception):
    """An error reported by Runware, by the transport, or by our own validation before any request.

    ``str(error)`` is one readable line for an Airflow task log: category, raw code, message and the
    parameter and task UUID when known. It never contains the API key: messages come from the server or
    from this package, and the key is never part of either.
    """

    default_category: Category = "server"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        category: Category | None = None,
        parameter: str | None = None,
        task_uuid: str | None = None,
        documentation: str | None = None,
        http_status: int | None = None,
        allowed_values: Sequence[Any] | None = None,
        retryable: bool | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if category is None and not code and http_status is None:
            category = self.default_category
        self.category: Category = category or classify(code, http_status)
        self.parameter = parameter
        self.task_uuid = task_uuid
        self.documentation = documentation
        self.http_status = http_status
        self.allowed_values = list(allowed_values) if allowed_values is not None else None
        self.retryable = self.category in _RETRYABLE if retryable is None else retryable
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        head = f"Runware {self.category} error"
        if self.code:
            head += f" [{self.code}]"
        parts = [f"{head}: {self.message}"]
        if self.parameter:
            parts.append(f"parameter={self.parameter}")
        if self.allowed_values:
            parts.append(f"allowed={self.allowed_values}")
        if self.task_uuid:
            parts.append(f"taskUUID={self.task_uuid}")
        if self.http_status:
            parts.append(f"http={self.http_status}")
        if self.documentation:
            parts.append(f"docs={self.documentation}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, category={self.category!r}, "
            f"parameter={self.parameter!r}, task_uuid={self.task_uuid!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: teach pickle (used by Airflow's process boundaries) to rebuild it.
        return (_rebuild, (type(self), self.message, self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, e.g. for a trigger event or XCom."""
        return {
            "message": self.message,
            "code": self.code,
            "category": self.category,
            "parameter": self.parameter,
            "task_uuid": self.task_uuid,
            "documentation": self.documentation,
            "http_status": self.http_status,
            "allowed_values": self.allowed_values,
            "retryable": self.retryable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunwareError:
        """Inverse of :meth:`to_dict`: picks the subclass from the category."""
        category = _known_category(data.get("category"))
        code = data.get("code")
        klass = error_class(category, code if isinstance(code, str) else None, data.get("http_status"))
        return klass(
            str(data.get("message") or "unknown error"),
            code=code,
            category=category,
            parameter=data.get("parameter"),
            task_uuid=data.get("task_uuid"),
            documentation=data.get("documentation"),
            http_status=data.get("http_status"),
            allowed_values=data.get("allowed_values"),
            retryable=data.get("retryable"),
        )

    @classmethod
    def from_wire(
        cls, item: Mapping[str, Any], *, http_status: int | None = None, task_uuid: str | None = None
    ) -> RunwareError:
        """Build from a Runware error object (flat, or a data item with a nested ``error``)."""
        nested = item.get("error")
        source: Mapping[str, Any] = nested if isinstance(nested, Mapping) else item
        code = source.get("code") if isinstance(source.get("code"), str) else None
        category = classify(code, http_status)
        klass = error_class(category, code, http_status)
        allowed = source.get("allowedValues")
        return klass(
            str(source.get("message") or code or "unknown error"),
            code=code,
            category=category,
            parameter=_str_or_none(source.get("parameter")),
            task_uuid=_str_or_none(source.get("taskUUID") or item.get("taskUUID")) or task_uuid,
            documentation=_str_or_none(source.get("documentation")),
            http_status=http_status,
            allowed_values=allowed if isinstance(allowed, list) else None,
            details={k: v for k, v in source.items() if k in ("type", "min", "max", "responseContent")},
        )


def _rebuild(klass: type[RunwareError], message: str, data: dict[str, Any]) -> RunwareError:
    return klass(
        message,
        code=data.get("code"),
        category=_known_category(data.get("category")),
        parameter=data.get("parameter"),
        task_uuid=data.get("task_uuid"),
        documentation=data.get("documentation"),
        http_status=data.get("http_status"),
        allowed_values=data.get("allowed_values"),
        retryable=data.get("retryable"),
    )


def _known_category(value: Any) -> Category | None:
    """A category read back from JSON or a pickle; ``"conflict"`` from older releases is ``validation``."""
    if value == "conflict":
        return "validation"
    return value if isinstance(value, str) and value in _CATEGORY_CLASS else None  # type: ignore[return-value]


def is_conflict(code: str | None, http_status: int | None = None) -> bool:
    """A reused taskUUID (``conflict*`` code, or a bare HTTP 409): the earlier task exists."""
    if code:
        return code.lower().startswith("conflict")
    return http_status == 409


def error_class(
    category: str | None, code: str | None = None, http_status: int | None = None
) -> type[RunwareError]:
    """The exception class for an error: per category, plus :class:`RunwareConflictError` for conflicts."""
    if is_conflict(code, http_status):
        return RunwareConflictError
    return _CATEGORY_CLASS.get(category or "", RunwareError)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class RunwareAuthError(RunwareError):
    """Bad, missing or under-privileged API key (401/403)."""

    default_category: Category = "auth"


class RunwareQuotaError(RunwareError):
    """Insufficient credits or quota (402)."""

    default_category: Category = "quota"


class RunwareRateLimitError(RunwareError):
    """Queue capacity exceeded (429); retried with backoff."""

    default_category: Category = "rate_limit"


class RunwareSafetyError(RunwareError):
    """The prompt or the output was blocked by content policy."""

    default_category: Category = "safety"


class RunwareProviderError(RunwareError):
    """The upstream model provider failed the generation."""

    default_category: Category = "provider"


class RunwareTimeoutError(RunwareError):
    """The generation (``timeoutProvider``) or our own wait timed out."""

    default_category: Category = "timeout"


class RunwareNotFoundError(RunwareError):
    """Unknown or expired task or media."""

    default_category: Category = "not_found"


class RunwareServerError(RunwareError):
    """Runware answered 5xx."""

    default_category: Category = "server"


class RunwareTransportError(RunwareError):
    """No usable answer: connection refused, dropped, timed out, or not JSON."""

    default_category: Category = "transport"


class RunwareConflictError(RunwareError):
    """The taskUUID was used already (``conflictTaskUUID``); category ``validation``, as Runware files it.

    A submit never raises it (the hook reports "already submitted"); idempotent uploads catch it to
    recover the earlier answer with ``getTaskDetails``.
    """

    default_category: Category = "validation"


class InvalidRequestError(RunwareError, ValueError):
    """A request that breaks a Wan2.7 rule, caught before any HTTP request (nothing is spent)."""

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        allowed_values: Sequence[Any] | None = None,
        code: str = "invalidParameter",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("category", "validation")
        kwargs.setdefault("retryable", False)
        super().__init__(message, code=code, parameter=parameter, allowed_values=allowed_values, **kwargs)

    def __str__(self) -> str:
        text = f"Invalid Wan2.7 request: {self.parameter}: {self.message}"
        if self.allowed_values:
            text += f" (allowed: {', '.join(str(v) for v in self.allowed_values)})"
        return text


_CATEGORY_CLASS: dict[str, type[RunwareError]] = {
    "auth": RunwareAuthError,
    "quota": RunwareQuotaError,
    "validation": RunwareError,
    "rate_limit": RunwareRateLimitError,
    "safety": RunwareSafetyError,
    "provider": RunwareProviderError,
    "timeout": RunwareTimeoutError,
    "not_found": RunwareNotFoundError,
    "server": RunwareServerError,
    "transport": RunwareTransportError,
}
