"""Every derived UUID: the one place that decides "the same work". Runware's only idempotency is the
client-chosen ``taskUUID`` (a resend answers ``conflictTaskUUID``, not charged again), so each UUID is a pure
function of the task instance's identity (never the try number) plus the request fingerprint, or of the
content's SHA-256 for a media upload (docs/operators.md, docs/media.md). Runware requires version 4."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

# Fixed forever: changing it would make every in-flight task submit again after an upgrade.
NAMESPACE = uuid.UUID("6f1d2a4e-5b0c-4c8e-9a57-0a1b2c3d4e5f")

MAX_GENERATIONS = 20

# Canonical form, version 4, RFC 4122 variant. Either case: Runware matches task UUIDs case-insensitively.
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)


def is_uuid4(value: object) -> bool:
    """A canonical UUID string of version 4 (RFC 4122 variant), as Runware requires for ``taskUUID``."""
    return isinstance(value, str) and _UUID4.match(value) is not None


def _derive(*parts: object) -> str:
    """A version-4-formatted UUID that is a pure function of ``parts`` (JSON-serialisable)."""
    name = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    raw = bytearray(uuid.uuid5(NAMESPACE, name).bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))


def ti_identity(ti: Any) -> dict[str, Any]:
    """``dag_id, task_id, run_id, map_index`` of a task instance: what stays the same across its tries."""
    map_index = getattr(ti, "map_index", -1)
    return {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "map_index": -1 if map_index is None else int(map_index),
    }


def request_identity(fingerprint: str, content_digest: Sequence[str] = ()) -> str:
    """The request's fingerprint together with the content of its local and S3 inputs, so replaced bytes
    under the same path or key are a new generation. Without such inputs, the fingerprint itself (the task
    UUIDs of requests without file inputs are unchanged)."""
    if not content_digest:
        return fingerprint
    name = json.dumps([fingerprint, list(content_digest)], separators=(",", ":"))
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def task_uuid_for(
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    map_index: int,
    fingerprint: str,
    generation: int = 0,
    idempotency_key: str | None = None,
) -> str:
    """The task UUID of one generation attempt; a user's ``idempotency_key`` replaces the Airflow identity
    (to share a generation between runs, or force a new one), the request fingerprint still applies."""
    identity = (
        ["key", idempotency_key]
        if idempotency_key is not None
        else ["ti", dag_id, task_id, run_id, map_index]
    )
    return _derive("videoInference", *identity, fingerprint, generation)


def delivery_token(*, dag_id: str, task_id: str, run_id: str, map_index: int, fingerprint: str) -> str:
    """Name of the uploadEndpoint staging object: a retry finds the file an earlier try delivered, and two
    runs with the same request never touch each other's file."""
    return _derive("uploadEndpoint", dag_id, task_id, run_id, map_index, fingerprint)


def media_task_uuid(content_sha256: str, scope: str, attempt: int = 0) -> str:
    """Task UUID of a ``mediaStorage`` upload, so a retried upload of the same bytes is not repeated; a
    later ``attempt`` replaces a UUID burnt by a failed upload (attempt 0 keeps the historical form)."""
    return _derive("mediaStorage", content_sha256, scope, *([attempt] if attempt else []))
