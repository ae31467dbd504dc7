"""The asset a task declares for its ``s3_destination`` (one place for the operator and the sensor)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_wan.errors import InvalidRequestError


def destination_outlets(s3_destination: Any, outlets: Iterable[Any] | None) -> list[Any] | None:
    """``outlets`` plus the ``s3_destination`` asset; checks the destination at parse time when it can.

    Returns ``outlets`` unchanged (``None`` included) when no asset can be declared: no destination, or
    one whose bucket is templated ("s3://my-{{ env }}/" has no static bucket: no asset rather than a
    wrong one).
    """
    if s3_destination is None:
        return None if outlets is None else list(outlets)
    if not isinstance(s3_destination, str):
        raise InvalidRequestError(
            f"must be an s3://bucket/prefix/ string, got {type(s3_destination).__name__}",
            parameter="s3_destination",
        )
    from airflow.sdk import Asset

    from airflow_provider_wan.media.s3 import parse_s3_uri

    static = s3_destination.split("{{", 1)[0]
    if static == s3_destination:  # not templated: final now, so refuse it at parse time
        parse_s3_uri(s3_destination, parameter="s3_destination", require_key=False)
    # Declare the asset from the static part, once it holds the whole bucket name.
    bucket, slash, _ = static[len("s3://") :].partition("/") if static.startswith("s3://") else ("", "", "")
    if not (bucket and (slash or static == s3_destination)):
        return None if outlets is None else list(outlets)
    try:
        asset = Asset(uri=static)
    except ValueError as err:
        raise InvalidRequestError(f"not a valid asset URI: {err}", parameter="s3_destination") from None
    return [*(outlets or []), asset]
