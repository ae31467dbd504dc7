"""One exception hierarchy for everything Runware (and our own pre-flight checks) can say no to: Runware's
growing error codes bucketed into a stable :data:`Category` (the raw ``code`` stays visible). ``conflict*``
codes (HTTP 409) are ``validation`` but get :class:`RunwareConflictError`: a reused taskUUID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, get_args

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
    **dict.fromkeys((400, 409, 422), "validation"),
    **dict.fromkeys((401, 403), "auth"),
    **{402: "quota", 404: "not_found", 408: "timeout", 429: "rate_limit"},
}
# Codes the naming rules in classify() would file elsewhere (or only by HTTP status).
_CODE_GROUPS: dict[Category, str] = {
    "auth": "invalidApiKey missingApiKey unauthorized forbidden accountSuspended",
    "safety": "contentPolicyViolation sensitiveContentDetected nsfwContentDetected promptBlocked",
    "provider": "inferenceError processingFailed taskFailed noAvailableServer modelUnavailable",
}
_EXACT_CODES = {code: category for category, codes in _CODE_GROUPS.items() for code in codes.split()}
_NAMING_RULES: tuple[tuple[Category, tuple[str, ...], tuple[str, ...]], ...] = (
    # (category, substrings, prefixes) of a lower-cased code, first match wins
    ("timeout", ("timeout",), ()),
    ("rate_limit", ("ratelimit",), ()),
    ("quota", ("credit", "quota", "balance", "payment"), ()),
    ("provider", (), ("provider",)),
    ("validation", (), ("invalid", "missing", "unsupported", "unknown", "incompatible", "conflict")),
    ("not_found", ("notfound", "expired"), ()),
)

# Categories worth another attempt with the same request. A provider timeout is transient by nature
# (the official SDK wrongly treats it as fatal); a retry of a *generation* still needs a new taskUUID.
_RETRYABLE: frozenset[Category] = frozenset({"rate_limit", "server", "transport", "timeout", "provider"})
# The fields of to_dict(): the one plain-JSON round trip (trigger events, XCom, pickle).
_FIELDS = ("code", "category", "parameter", "task_uuid", "documentation", "http_status", "allowed_values")


def classify(code: str | None, http_status: int | None = None) -> Category:
    """Bucket a raw Runware error code (or, failing that, an HTTP status) into a :data:`Category`."""
    if code:
        if code in _EXACT_CODES:
            return _EXACT_CODES[code]
        lowered = code.lower()
        for category, words, prefixes in _NAMING_RULES:
            if any(word in lowered for word in words) or lowered.startswith(prefixes):
                return category
    if http_status is not None:
        if http_status in _HTTP_CATEGORY:
            return _HTTP_CATEGORY[http_status]
        if http_status >= 500:
            return "server"
    return "provider" if code else "server"


class RunwareError(Exception):
    """An error reported by Runware, by the transport, or by our own validation before any request.

    ``str(error)`` is one readable line for an Airflow task log. It never contains the API key: messages
    come from the server or from this package, and the key is never part of either.
    """

    default_category: ClassVar[Category] = "server"
    _by_category: ClassVar[dict[str, type[RunwareError]]] = {}

    def __init_subclass__(cls, category: Category | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if category is not None:  # one class per category: the one from_wire/from_dict pick
            cls.default_category = category
            RunwareError._by_category[category] = cls

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
        head = f"Runware {self.category} error" + (f" [{self.code}]" if self.code else "")
        pairs = (
            ("parameter", self.parameter),
            ("allowed", self.allowed_values),
            ("taskUUID", self.task_uuid),
            ("http", self.http_status),
            ("docs", self.documentation),
        )
        return " | ".join([f"{head}: {self.message}", *(f"{k}={v}" for k, v in pairs if v)])

    def __repr__(self) -> str:
        shown = ("code", "category", "parameter", "task_uuid", "message")
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in shown)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: teach pickle (Airflow's process boundaries) to rebuild it, class kept.
        return (_restore, (type(self), self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, e.g. for a trigger event or XCom."""
        return {
            "message": self.message,
            **{k: getattr(self, k) for k in _FIELDS},
            "retryable": self.retryable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunwareError:
        """Inverse of :meth:`to_dict`, subclass kept (an older release's ``"conflict"`` is ``validation``)."""
        category = "validation" if data.get("category") == "conflict" else data.get("category")
        category = category if category in get_args(Category) else None
        code = data.get("code") if isinstance(data.get("code"), str) else None
        klass = _error_class(category, code, data.get("http_status"))
        return _restore(klass, {**data, "category": category})

    @classmethod
    def from_wire(
        cls, item: Mapping[str, Any], *, http_status: int | None = None, task_uuid: str | None = None
    ) -> RunwareError:
        """Build from a Runware error object (flat, or a data item with a nested ``error``)."""
        nested = item.get("error")
        source: Mapping[str, Any] = nested if isinstance(nested, Mapping) else item
        code = source.get("code") if isinstance(source.get("code"), str) else None
        category = classify(code, http_status)
        allowed = source.get("allowedValues")
        return _error_class(category, code, http_status)(
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


def _restore(klass: type[RunwareError], data: Mapping[str, Any]) -> RunwareError:
    fields = {k: data.get(k) for k in _FIELDS}
    return klass(str(data.get("message") or "unknown error"), retryable=data.get("retryable"), **fields)


def _error_class(category: str | None, code: str | None, http_status: int | None) -> type[RunwareError]:
    """Per category, plus :class:`RunwareConflictError` for a reused taskUUID (``conflict*`` or bare 409)."""
    if code.lower().startswith("conflict") if code else http_status == 409:
        return RunwareConflictError
    if category == "validation":  # Runware's own checks: the same class as ours, so one except clause
        return InvalidRequestError
    return RunwareError._by_category.get(category or "", RunwareError)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class RunwareAuthError(RunwareError, category="auth"):
    """Bad, missing or under-privileged API key (401/403)."""


class RunwareQuotaError(RunwareError, category="quota"):
    """Insufficient credits or quota (402)."""


class RunwareRateLimitError(RunwareError, category="rate_limit"):
    """Queue capacity exceeded (429); retried with backoff."""


class RunwareSafetyError(RunwareError, category="safety"):
    """The prompt or the output was blocked by content policy."""


class RunwareProviderError(RunwareError, category="provider"):
    """The upstream model provider failed the generation."""


class RunwareTimeoutError(RunwareError, category="timeout"):
    """The generation (``timeoutProvider``) or our own wait timed out."""


class RunwareNotFoundError(RunwareError, category="not_found"):
    """Unknown or expired task or media."""


class RunwareServerError(RunwareError, category="server"):
    """Runware answered 5xx."""


class RunwareTransportError(RunwareError, category="transport"):
    """No usable answer: connection refused, dropped, timed out, or not JSON."""


class RunwareConflictError(RunwareError):
    """The taskUUID was used already (``conflictTaskUUID``): idempotent uploads catch it to recover the
    earlier answer (a submit reports "already submitted" instead)."""

    default_category: ClassVar[Category] = "validation"


class InvalidRequestError(RunwareError, ValueError):
    """A request that breaks a rule: ours, caught before any HTTP request (nothing is spent), or Runware's
    (``http_status`` set: its validation answer, e.g. for a model we check only structurally)."""

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
        if self.http_status is not None:  # Runware refused it: its message, code, parameter and docs
            return super().__str__()
        text = f"Invalid Wan2.7 request: {self.parameter}: {self.message}"
        if self.allowed_values:
            text += f" (allowed: {', '.join(str(v) for v in self.allowed_values)})"
        return text


#: The code of an answer refused for a NaN, Infinity or out-of-range number in it (one item's doing).
NON_FINITE = "nonFiniteNumber"
