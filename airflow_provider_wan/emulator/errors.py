"""Runware-shaped error objects and the HTTP status that a list of them maps to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .model import API_REFERENCE, doc_url

DOCS_TASK_POLLING = "https://runware.ai/docs/platform/task-polling"
DOCS_MEDIA_STORAGE = "https://runware.ai/docs/platform/media-storage"
DOCS_VIDEO_INFERENCE = API_REFERENCE

ErrorDict = dict[str, Any]

# Codes whose category is not the default "validation -> 400".
_STATUS_BY_CODE: dict[str, int] = {
    "invalidApiKey": 401,
    "missingApiKey": 401,
    "insufficientCredits": 402,
    "forbidden": 403,
    "taskNotFound": 404,
    "mediaNotFound": 404,
    "rateLimitExceeded": 429,
    "internalServerError": 500,
    "serviceUnavailable": 503,
}


def make_error(
    code: str,
    message: str,
    *,
    parameter: str | None = None,
    type_: str | None = None,
    allowed_values: Sequence[Any] | None = None,
    min_: int | float | None = None,
    max_: int | float | None = None,
    documentation: str | None = None,
    task_uuid: Any = None,
) -> ErrorDict:
    """Build an error object; optional fields are omitted rather than sent as null."""
    error: ErrorDict = {"code": code, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    if type_ is not None:
        error["type"] = type_
    if allowed_values is not None:
        error["allowedValues"] = list(allowed_values)
    if min_ is not None:
        error["min"] = min_
    if max_ is not None:
        error["max"] = max_
    error["documentation"] = documentation if documentation is not None else doc_url(parameter)
    if isinstance(task_uuid, str):
        error["taskUUID"] = task_uuid
    return error


def auth_error(code: str, message: str) -> ErrorDict:
    """The documented ``invalidApiKey`` shape (code, message, parameter, taskType; no documentation,
    no taskUUID), also used for ``missingApiKey`` and ``forbidden``, whose bodies Runware does not show."""
    return {"code": code, "message": message, "parameter": "apiKey", "taskType": "authentication"}


def is_generation_failure(error: ErrorDict) -> bool:
    """A failed generation reported by getResponse (flat shape) rather than a rejected request."""
    return error.get("status") == "error"


def http_status(errors: Sequence[ErrorDict], *, generation_failure_status: int) -> int:
    """Status of a response that carries no data item: the category of its first error.

    Runware's status for a poll whose only content is a failed generation is undocumented, hence
    the knob ``generation_failure_status``.
    """
    if not errors:
        return 200
    first = errors[0]
    if is_generation_failure(first):
        return generation_failure_status
    return _STATUS_BY_CODE.get(str(first.get("code")), 400)
