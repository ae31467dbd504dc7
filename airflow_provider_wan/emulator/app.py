"""The FastAPI app: POST /v1 (the Runware API), media downloads, and /_emulator/* control routes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .downloads import ByteSource, serve
from .errors import ErrorDict, auth_error, http_status, make_error
from .faults import DroppedConnection, silence_injected_drop_logs
from .handlers import RequestContext, handle_tasks
from .settings import EmulatorSettings
from .state import EmulatorState


def _envelope(data: list[dict[str, Any]], errors: list[ErrorDict], *, always_errors: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors or always_errors:
        body["errors"] = errors
    if not body:
        body["data"] = []
    return body


def _error_response(status: int, error: ErrorDict, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [error]}, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it exceeds ``limit`` (read incrementally, never unbounded)."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def create_app(settings: EmulatorSettings | None = None) -> FastAPI:
    """Build an emulator app; its state is reachable as ``app.state.emulator``."""
    state = EmulatorState(settings or EmulatorSettings())
    silence_injected_drop_logs()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await state.aclose()

    app = FastAPI(title="Runware API emulator (Wan2.7)", lifespan=lifespan, openapi_url=None)
    app.state.emulator = state

    # --- the Runware API ---------------------------------------------------------------------

    @app.post("/v1")
    async def runware_api(request: Request) -> Response:
        ledger = state.ledger
        ledger.http_requests += 1
        knobs = state.knobs
        faults = state.faults
        if faults.hit(knobs.p_drop):
            ledger.faults["drop"] += 1
            # Drain the body first: closing with unread input makes the kernel send a reset, and
            # the client should see "connection closed mid-answer", not a refused request.
            await _read_body(request, state.settings.max_request_bytes)
            return DroppedConnection()
        if faults.hit(knobs.p_slow):
            ledger.faults["slow"] += 1
            await asyncio.sleep(knobs.slow_seconds)
        if faults.hit(knobs.p_429):
            ledger.faults["429"] += 1
            headers = {"retry-after": f"{knobs.retry_after:g}"} if knobs.retry_after is not None else None
            error = make_error(
                "rateLimitExceeded",
                "Too many requests: the model queue is full. Retry later.",
                documentation="https://runware.ai/docs/platform/errors",
            )
            return _error_response(429, error, headers)
        for probability, status, code in (
            (knobs.p_500, 500, "internalServerError"),
            (knobs.p_503, 503, "serviceUnavailable"),
        ):
            if faults.hit(probability):
                ledger.faults[str(status)] += 1
                message = "Internal server error." if status == 500 else "Service temporarily unavailable."
                return _error_response(
                    status, make_error(code, message, documentation="https://runware.ai/docs/platform/errors")
                )

        raw = await _read_body(request, state.settings.max_request_bytes)
        if raw is None:
            return _error_response(
                413,
                make_error(
                    "payloadTooLarge", f"Request body exceeds {state.settings.max_request_bytes} bytes."
                ),
            )
        try:
            tasks = json.loads(raw, parse_constant=_reject_constant)
        except ValueError as exc:  # includes JSONDecodeError and UnicodeDecodeError
            return _error_response(
                400, make_error("invalidRequestBody", f"The body is not valid JSON: {exc}")
            )
        if not isinstance(tasks, list) or not tasks:
            return _error_response(
                400, make_error("invalidRequestBody", "The body must be a non-empty JSON array of tasks.")
            )

        # Authentication: Bearer header and/or authentication task elements.
        auth_tasks = [t for t in tasks if isinstance(t, dict) and t.get("taskType") == "authentication"]
        work = [t for t in tasks if not (isinstance(t, dict) and t.get("taskType") == "authentication")]
        header_key = _bearer(request)
        keys = ([header_key] if header_key is not None else []) + [t.get("apiKey") for t in auth_tasks]
        method = (
            "both"
            if header_key is not None and auth_tasks
            else ("header" if header_key is not None else "element")
        )
        if not keys:
            ledger.auth_failures += 1
            return _error_response(
                401, auth_error("missingApiKey", "Missing API key. Get one at https://my.runware.ai/signup")
            )
        forbidden = frozenset(knobs.forbidden_keys)
        if not all(isinstance(k, str) and (k in state.api_keys or k in forbidden) for k in keys):
            ledger.auth_failures += 1
            return _error_response(
                401, auth_error("invalidApiKey", "Invalid API key. Get one at https://my.runware.ai/signup")
            )
        ledger.auth_methods[method] += 1
        if not work:
            ledger.count_task_type("authentication")
            return JSONResponse(
                {"data": [{"taskType": "authentication", "connectionSessionUUID": str(uuid.uuid4())}]}
            )
        # A forbidden key is genuine (authentication alone succeeds) but may not run any task.
        if any(k in forbidden for k in keys):
            ledger.forbidden_requests += 1
            return _error_response(
                403,
                auth_error("forbidden", "This API key does not have permission to perform this request."),
            )

        ctx = RequestContext(public_base=str(request.base_url).rstrip("/"))
        data, errors = await handle_tasks(state, work, ctx)

        if ctx.accepted_video_tasks and faults.hit(knobs.p_ack_lost):
            ledger.faults["ack_lost"] += 1
            if faults.ack_lost_drops(knobs):
                return DroppedConnection()
            return _error_response(500, make_error("internalServerError", "Internal server error."))
        status = (
            200 if data else http_status(errors, generation_failure_status=knobs.generation_failure_status)
        )
        return JSONResponse(
            _envelope(data, errors, always_errors=knobs.empty_errors_array), status_code=status
        )

    # --- media ---------------------------------------------------------------------------------

    def _media_error(code: str, message: str, status: int = 404) -> JSONResponse:
        return _error_response(
            status, make_error(code, message, documentation="https://runware.ai/docs/platform/media-storage")
        )

    def _count_download(length: int) -> None:
        state.ledger.downloads += 1
        state.ledger.download_bytes += length

    @app.api_route("/media/videos/{name}", methods=["GET", "HEAD"])
    async def download_video(name: str, request: Request) -> Response:
        stem, _, extension = name.rpartition(".")
        found = state.jobs.video(stem)
        if found is None or found[0].extension != extension.lower():
            return _media_error("mediaNotFound", "No such video.")
        job, index = found
        now = state.now()
        status = job.status(index, now)
        if status != "success":
            return _media_error("mediaNotFound", f"The video is not available (result status: {status}).")
        expiry = job.url_expiry(index, request.query_params.get("token"))
        if expiry is None:  # like a CDN refusing a bad signature
            return _media_error("forbidden", "The token of this video URL is not valid.", status=403)
        if now >= expiry:
            state.ledger.expired_downloads += 1
            return _media_error("mediaExpired", "The video URL expired (ttl elapsed).", status=410)
        source = await state.output_source(job, index)
        return serve(request, source, job.mime, {"cache-control": "no-store"}, on_bytes=_count_download)

    @app.api_route("/media/storage/{name}", methods=["GET", "HEAD"])
    async def download_stored(name: str, request: Request) -> Response:
        stem, _, _extension = name.rpartition(".")
        stored = state.media.get(stem or name)
        if stored is None:
            return _media_error("mediaNotFound", "No such stored media.")
        return serve(request, ByteSource(stored.path, stored.size), stored.info.mime)

    # --- control (outside the Runware API; never subject to faults) ------------------------------

    @app.get("/_emulator/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "tasks": len(state.jobs), "media": len(state.media), "now": state.now()}

    @app.get("/_emulator/faults")
    async def get_faults() -> dict[str, Any]:
        return state.knobs.model_dump()

    @app.post("/_emulator/faults")
    async def set_faults(request: Request) -> Response:
        try:
            updates = await request.json()
            if not isinstance(updates, dict):
                raise ValueError("body must be a JSON object of knobs")
            knobs = state.update_knobs(updates)
        except ValidationError as exc:
            return JSONResponse(
                {"error": "invalid knobs", "details": json.loads(exc.json())}, status_code=400
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(knobs.model_dump())

    @app.get("/_emulator/ledger")
    async def ledger() -> dict[str, Any]:
        return state.ledger.snapshot(state.jobs, state.now(), state.videos.encodes)

    @app.post("/_emulator/reset")
    async def reset(request: Request) -> dict[str, Any]:
        raw = await request.body()
        options = json.loads(raw) if raw.strip() else {}
        state.reset(keep_faults=bool(isinstance(options, dict) and options.get("keep_faults")))
        return {"status": "reset"}

    @app.get("/_emulator/clock")
    async def get_clock() -> dict[str, Any]:
        return {"now": state.now(), "offset": state.clock_offset}

    @app.post("/_emulator/clock")
    async def advance_clock(request: Request) -> Response:
        body = await request.json()
        seconds = body.get("advance") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return JSONResponse({"error": 'body must be {"advance": <seconds >= 0>}'}, status_code=400)
        state.advance_clock(float(seconds))
        return JSONResponse({"now": state.now(), "offset": state.clock_offset})

    @app.get("/")
    async def index() -> dict[str, Any]:
        return {"service": "Runware API emulator (Wan2.7)", "api": "POST /v1", "docs": "docs/emulator.md"}

    return app
