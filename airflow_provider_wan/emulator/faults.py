"""Fault injection for POST /v1: seeded coin flips and the "dropped connection" response."""

from __future__ import annotations

import logging
import random

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .settings import Knobs

# uvicorn logs this when an app returns mid-response; for an injected drop it is expected noise.
_UVICORN_INCOMPLETE = "ASGI callable returned without completing response."


class FaultInjector:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def hit(self, probability: float) -> bool:
        # Draw only when the knob is on, so enabling one knob does not shift the others' sequences.
        return probability > 0 and self.rng.random() < probability

    def ack_lost_drops(self, knobs: Knobs) -> bool:
        """For a lost acknowledgment: True = drop the connection, False = answer 500."""
        if knobs.ack_lost_mode == "random":
            return self.rng.random() < 0.5
        return knobs.ack_lost_mode == "drop"


class DroppedConnection(Response):
    """Sends headers announcing a body, part of the body, then stops.

    The server then closes the socket, so the client sees a transport error (for httpx:
    ``RemoteProtocolError``: peer closed connection without sending complete message body) instead
    of an HTTP status. That is what a load balancer reset mid-answer looks like.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"data": [', "more_body": True})


class _QuietInjectedDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _UVICORN_INCOMPLETE


def silence_injected_drop_logs() -> None:
    """Idempotently hide uvicorn's error line for our deliberate drops (other errors still show)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjectedDrops) for f in logger.filters):
        logger.addFilter(_QuietInjectedDrops())
