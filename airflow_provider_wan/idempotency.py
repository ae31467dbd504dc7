"""Deterministic Runware task UUIDs: the one place that decides what "the same generation" means.

Runware's only idempotency mechanism is the client-chosen ``taskUUID``: a resend of an accepted UUID is
answered ``conflictTaskUUID`` and nothing is charged again. So the UUID is derived from the Airflow identity
of the task instance — ``dag_id, task_id, run_id, map_index``, never the try number — plus a fingerprint of
the request. A retry, a worker crash after submit or a cleared task therefore re-attach to the generation
they already paid for, while a changed prompt (different fingerprint) is a new generation.

A failed generation must not be cached forever: ``generation`` counts failed attempts. The operator probes
generation 0, 1, 2, ... and stops at the first UUID that is new, running or successful.

Runware requires UUID **version 4** format, so the uuid5-style SHA-1 digest is stamped with the version-4
and RFC 4122 variant bits (122 bits of the digest are kept: collisions stay out of reach).
"""

from __future__ import annotations

import hashlib
import json
import uuid

# Fixed forever: changing it would make every in-flight task submit again after an upgrade.
NAMESPACE = uuid.UUID("6f1d2a4e-5b0c-4c8e-9a57-0a1b2c3d4e5f")

MAX_GENERATIONS = 20


def as_uuid4(value: uuid.UUID) -> uuid.UUID:
    """Stamp version 4 and the RFC 4122 variant onto a deterministic UUID."""
    raw = bytearray(value.bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw))


def deterministic_uuid(*parts: object) -> str:
    """A version-4-formatted UUID that is a pure function of ``parts`` (JSON-serialisable)."""
    name = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return str(as_uuid4(uuid.uuid5(NAMESPACE, name)))


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
    """The task UUID of one generation attempt.

    With ``idempotency_key`` the user's key replaces the Airflow identity (e.g. to share one generation
    between DAG runs, or to force a new one by changing the key); the request fingerprint still applies.
    """
    identity: list[object] = (
        ["key", idempotency_key]
        if idempotency_key is not None
        else ["ti", dag_id, task_id, run_id, map_index]
    )
    return deterministic_uuid("videoInference", *identity, fingerprint, generation)


def media_task_uuid(content_sha256: str, scope: str) -> str:
    """Task UUID of a ``mediaStorage`` upload, so a retried upload of the same bytes is not repeated."""
    return deterministic_uuid("mediaStorage", content_sha256, scope)


def is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return parsed.version == 4 and str(parsed) == value.lower()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
