"""One handler per taskType. Each returns (data items, error items) for its task only, so a bad
task never fails its neighbours in the same array."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import model
from .errors import DOCS_MEDIA_STORAGE, DOCS_TASK_POLLING, ErrorDict, make_error
from .inputs import MediaFacts, inspect_media
from .jobs import Job, JobPlan, cost_per_result, draw_outcomes
from .media import MediaProblem
from .other_models import is_other_model, plan_other, validate_other_model
from .records import TaskRecord, trimmed_request
from .state import EmulatorState
from .validation import (
    check_enum,
    check_task_uuid,
    check_unknown_keys,
    fail,
    is_uuid,
    present,
    run_check,
    validate_video_inference,
)

Items = tuple[list[dict[str, Any]], list[ErrorDict]]


@dataclass
class RequestContext:
    public_base: str  # scheme://host:port the client used; media URLs are built on it
    accepted_video_tasks: int = 0
    get_response_uuids: int = 0


Handler = Callable[[EmulatorState, dict[str, Any], RequestContext], Awaitable[Items]]


def _reject(state: EmulatorState, error: ErrorDict) -> Items:
    state.ledger.rejected[str(error.get("code"))] += 1
    return [], [error]


def _with_task(error: ErrorDict, task: dict[str, Any], task_type: str) -> ErrorDict:
    """Attach the task's UUID, and its taskType except for videoInference: Runware's documented
    submit error for that task type has none (the validator's errors have none either)."""
    if isinstance(task.get("taskUUID"), str):
        error["taskUUID"] = task["taskUUID"]
    if task_type != "videoInference":
        error["taskType"] = task_type
    return error


def _conflict(state: EmulatorState, task: dict[str, Any], task_type: str) -> Items:
    """A reused taskUUID (of any task type): refused, the earlier answer is not replayed."""
    state.ledger.conflict(task_type)
    error = make_error(
        "conflictTaskUUID",
        "A task with this taskUUID was already submitted. Poll it with getResponse or recover its "
        "request and response with getTaskDetails.",
        parameter="taskUUID",
        type_="string",
        documentation=DOCS_TASK_POLLING,
    )
    return _reject(state, _with_task(error, task, task_type))


# --- videoInference ------------------------------------------------------------------------------


def _plan(task: dict[str, Any], facts: MediaFacts) -> JobPlan:
    """Output size, tier and the other defaults the model page documents."""
    if present(task, "width") and present(task, "height"):
        width, height = task["width"], task["height"]
        tier = model.PRESETS[(width, height)]
    else:
        tier = task.get("resolution") or model.DEFAULT_RESOLUTION
        size = facts.first_frame_size
        width, height = model.closest_preset(tier, size[0] / size[1] if size else None)
    settings: dict[str, Any] = task.get("settings") or {}
    audio = settings.get("audio")
    return JobPlan(
        width=width,
        height=height,
        tier=tier,
        duration=task.get("duration") or model.DEFAULT_DURATION,
        output_format=task.get("outputFormat") or "MP4",
        audio=True if audio is None else bool(audio),
        number_results=task.get("numberResults") or 1,
        input_video_seconds=round(facts.input_video_seconds, 3),
    )


async def handle_video_inference(state: EmulatorState, task: dict[str, Any], ctx: RequestContext) -> Items:
    if is_other_model(task):
        errors = validate_other_model(task)
    else:
        errors = validate_video_inference(
            task, resolution_must_match_size=state.knobs.resolution_must_match_size
        )
    if errors:
        return _reject(state, errors[0])
    task_uuid: str = task["taskUUID"]
    if state.task_uuid_taken(task_uuid):
        return _conflict(state, task, "videoInference")
    # Held while media is fetched, so a concurrent request with the same UUID is refused meanwhile.
    state.records.reserve(task_uuid)
    try:
        return await _accept_video_inference(state, task, ctx)
    finally:
        state.records.release(task_uuid)


async def _accept_video_inference(state: EmulatorState, task: dict[str, Any], ctx: RequestContext) -> Items:
    task_uuid: str = task["taskUUID"]
    facts = await inspect_media(state.loader, state.inputs, task)
    if isinstance(facts, dict):
        return _reject(state, _with_task(facts, task, "videoInference"))
    plan = plan_other(task, facts) if is_other_model(task) else _plan(task, facts)
    costs = cost_per_result(
        model.rate_for(plan.tier), plan.duration, plan.number_results, plan.input_video_seconds
    )
    charge = round(sum(costs), 4)
    knobs = state.knobs
    if knobs.balance_usd is not None and state.ledger.charged_usd + charge > knobs.balance_usd + 1e-9:
        error = make_error(
            "insufficientCredits",
            "Insufficient credits to run this task. Top up at https://my.runware.ai.",
            documentation="https://runware.ai/docs/platform/errors",
        )
        return _reject(state, _with_task(error, task, "videoInference"))
    now = state.now()
    due, seeds, video_uuids, failed, nsfw = draw_outcomes(state.rng, task, plan, knobs, now)
    job = Job(
        task_uuid=task_uuid,
        request=trimmed_request(task),
        created_at=now,
        due_at=due,
        width=plan.width,
        height=plan.height,
        tier=plan.tier,
        duration=plan.duration,
        output_format=plan.output_format,
        audio=plan.audio,
        include_cost=bool(task.get("includeCost")),
        ttl=float(task.get("ttl") or knobs.default_ttl),
        seeds=seeds,
        video_uuids=video_uuids,
        failed=failed,
        nsfw=nsfw,
        costs=costs,
        charged_usd=charge,
        input_video_seconds=plan.input_video_seconds,
        public_base=state.settings.public_url.rstrip("/") if state.settings.public_url else ctx.public_base,
        render_scale=knobs.media_scale,
        pad_bytes=knobs.pad_bytes,
        webhook_url=task.get("webhookURL"),
        upload_endpoint=task.get("uploadEndpoint"),
        inputs=facts.kept(),
    )
    state.jobs.add(job)
    state.ledger.submissions += 1
    state.ledger.accepted["videoInference"] += 1
    state.ledger.charge(task_uuid, charge)
    if job.webhook_url or job.upload_endpoint:
        state.deliveries.schedule(job)
    ctx.accepted_video_tasks += 1
    return [{"taskType": "videoInference", "taskUUID": task_uuid}], []


# --- getResponse / getTaskDetails ----------------------------------------------------------------


def _lookup(state: EmulatorState, task: dict[str, Any], task_type: str) -> Job | TaskRecord | ErrorDict:
    def check() -> None:
        check_unknown_keys(task, frozenset({"taskType", "taskUUID"}), "")
        if not present(task, "taskUUID"):
            fail("missingTaskUUID", "Missing required parameter: taskUUID.", "taskUUID", type_="string")
        if not isinstance(task["taskUUID"], str):
            fail(
                "invalidTaskUUID", "Invalid value for taskUUID: must be a string.", "taskUUID", type_="string"
            )

    error = run_check(check)
    if error is not None:
        error["documentation"] = DOCS_TASK_POLLING
        return _with_task(error, task, task_type)
    found = state.jobs.get(task["taskUUID"]) or state.records.get(task["taskUUID"])
    if found is None:
        error = make_error(
            "taskNotFound",
            f"No task found with taskUUID {task['taskUUID']}.",
            parameter="taskUUID",
            type_="string",
            documentation=DOCS_TASK_POLLING,
        )
        return _with_task(error, task, task_type)
    return found


async def handle_get_response(state: EmulatorState, task: dict[str, Any], ctx: RequestContext) -> Items:
    ctx.get_response_uuids += 1
    found = _lookup(state, task, "getResponse")
    if isinstance(found, dict):
        return _reject(state, found)
    if isinstance(found, TaskRecord):  # a synchronous task: its answer, as given
        return [dict(item) for item in found.data], []
    _refresh_expired_urls(state, found)
    return found.items(state.now(), state.knobs)


def _refresh_expired_urls(state: EmulatorState, job: Job) -> None:
    if state.knobs.refresh_expired_urls:
        state.ledger.url_refreshes += job.refresh_urls(state.now(), state.new_url_token)


async def handle_get_task_details(state: EmulatorState, task: dict[str, Any], ctx: RequestContext) -> Items:
    found = _lookup(state, task, "getTaskDetails")
    if isinstance(found, dict):
        return _reject(state, found)
    data: list[dict[str, Any]]
    errors: list[ErrorDict] = []
    if isinstance(found, TaskRecord):
        data = [dict(item) for item in found.data]
    else:
        _refresh_expired_urls(state, found)
        data, errors = found.items(state.now(), state.knobs)
    response: dict[str, Any] = {"data": data}
    if errors:
        response["errors"] = errors
    item = {
        "taskType": "getTaskDetails",
        "taskUUID": found.task_uuid,
        "request": [found.request],
        "response": response,
    }
    return [item], []


# --- mediaStorage --------------------------------------------------------------------------------

# As Runware's SDK sends it (MediaStorageParams): a delete names the stored media's UUID in ``media``.
_MEDIA_STORAGE_KEYS = frozenset({"taskType", "taskUUID", "operation", "media"})


async def handle_media_storage(state: EmulatorState, task: dict[str, Any], ctx: RequestContext) -> Items:
    def check() -> None:
        check_task_uuid(task)
        check_unknown_keys(task, _MEDIA_STORAGE_KEYS, "")
        if present(task, "operation"):
            check_enum(task["operation"], "operation", ("upload", "delete"))
        if task.get("operation") == "delete":
            if not present(task, "media"):
                fail("missingMedia", "Missing required parameter: media.", "media", type_="string")
            if not is_uuid(task["media"]):
                fail(
                    "invalidMedia",
                    "Invalid value for media: a delete takes the stored media's UUID.",
                    "media",
                    type_="string",
                )
        else:
            if not present(task, "media"):
                fail("missingMedia", "Missing required parameter: media.", "media", type_="string")
            media = task["media"]
            if not isinstance(media, str) or not media or is_uuid(media):
                fail(
                    "invalidMedia", "media must be a URL, a data URI or base64 data.", "media", type_="string"
                )

    error = run_check(check)
    if error is not None:
        error["documentation"] = DOCS_MEDIA_STORAGE
        return _reject(state, _with_task(error, task, "mediaStorage"))
    task_uuid: str = task["taskUUID"]
    if state.task_uuid_taken(task_uuid):  # checked before any media is fetched, decoded or stored
        return _conflict(state, task, "mediaStorage")
    state.records.reserve(task_uuid)
    try:
        if task.get("operation") == "delete":
            data, errors = _delete_media(state, task)
        else:
            data, errors = await _store_media(state, task, ctx)
        if data:
            kept = [dict(item) for item in data]
            state.records.add(TaskRecord(task_uuid, "mediaStorage", state.now(), trimmed_request(task), kept))
            state.ledger.accepted["mediaStorage"] += 1
        return data, errors
    finally:
        state.records.release(task_uuid)


def _delete_media(state: EmulatorState, task: dict[str, Any]) -> Items:
    media_uuid = task["media"]
    if not state.media.delete(media_uuid):
        error = make_error(
            "mediaNotFound",
            f"No stored media with UUID {media_uuid}.",
            parameter="media",
            documentation=DOCS_MEDIA_STORAGE,
        )
        return _reject(state, _with_task(error, task, "mediaStorage"))
    state.ledger.media_deletes += 1
    return [
        {
            "taskType": "mediaStorage",
            "taskUUID": task["taskUUID"],
            "operation": "delete",
            "mediaUUID": media_uuid,
        }
    ], []


async def _store_media(state: EmulatorState, task: dict[str, Any], ctx: RequestContext) -> Items:
    try:
        loaded = await state.loader.load(task["media"], kind=None, allow_inline=True)
    except MediaProblem as problem:
        error = make_error(
            problem.code,
            problem.message,
            parameter="media",
            allowed_values=problem.allowed_values,
            documentation=DOCS_MEDIA_STORAGE,
        )
        return _reject(state, _with_task(error, task, "mediaStorage"))
    media_uuid = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
    if loaded.data is not None:
        stored = state.media.add_bytes(loaded.data, loaded.info, media_uuid)
    else:
        assert loaded.path is not None and loaded.temporary
        stored = state.media.add_file(loaded.path, loaded.info, media_uuid)
    state.ledger.media_uploads += 1
    base = state.settings.public_url.rstrip("/") if state.settings.public_url else ctx.public_base
    media_url = f"{base}/media/storage/{media_uuid}.{stored.info.ext}"
    return [
        {
            "taskType": "mediaStorage",
            "taskUUID": task["taskUUID"],
            "mediaUUID": media_uuid,
            "mediaURL": media_url,
        }
    ], []


HANDLERS: dict[str, Handler] = {
    "videoInference": handle_video_inference,
    "getResponse": handle_get_response,
    "getTaskDetails": handle_get_task_details,
    "mediaStorage": handle_media_storage,
}


async def handle_tasks(state: EmulatorState, tasks: list[Any], ctx: RequestContext) -> Items:
    """Run every (non-authentication) task in order; collect data and errors in task order."""
    data: list[dict[str, Any]] = []
    errors: list[ErrorDict] = []
    for task in tasks:
        if not isinstance(task, dict):
            state.ledger.count_task_type("<not an object>")
            _, rejected = _reject(
                state, make_error("invalidTask", "Each task must be a JSON object.", type_="object")
            )
            errors.extend(rejected)
            continue
        task_type = task.get("taskType")
        state.ledger.count_task_type(task_type if isinstance(task_type, str) else "<missing>")
        handler = HANDLERS.get(task_type) if isinstance(task_type, str) else None
        if handler is None:
            error = make_error(
                "unsupportedTaskType" if task_type is not None else "missingTaskType",
                f"Unsupported taskType {task_type!r}." if task_type is not None else "Missing taskType.",
                parameter="taskType",
                type_="string",
                allowed_values=sorted(HANDLERS),
                documentation="https://runware.ai/docs/platform/tasks",
            )
            if isinstance(task.get("taskUUID"), str):
                error["taskUUID"] = task["taskUUID"]
            if isinstance(task_type, str):
                error["taskType"] = task_type
            _, rejected = _reject(state, error)
            errors.extend(rejected)
            continue
        items, task_errors = await handler(state, task, ctx)
        data.extend(items)
        errors.extend(task_errors)
    state.ledger.note_get_response_batch(ctx.get_response_uuids)
    return data, errors
