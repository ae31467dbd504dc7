"""The wire shapes we send, checked against Runware's own Python SDK types (``runware-sdk``, dev extra)."""

from __future__ import annotations

import typing
import uuid
from typing import Any

import pytest
from runware.types.task_map import MediaStorageParams

from airflow_provider_wan.client import delete_media_call
from airflow_provider_wan.hooks.runware import RunwareHook
from tests.test_hook_emulator import _tiny_png


def test_delete_media_task_has_the_sdk_shape() -> None:
    media_uuid = str(uuid.uuid4())
    [task] = delete_media_call(media_uuid).tasks
    declared = typing.get_type_hints(MediaStorageParams)
    assert set(task) <= set(declared), f"keys the SDK does not send: {set(task) - set(declared)}"
    sdk_task = MediaStorageParams(
        taskType="mediaStorage", taskUUID=task["taskUUID"], operation="delete", media=media_uuid
    )
    assert task == sdk_task


def test_emulator_deletes_what_the_sdk_sends_and_the_hook_does_too(emulator) -> None:  # type: ignore[no-untyped-def]
    with RunwareHook() as hook:
        first = hook.upload_media(_tiny_png()).media_uuid
        second = hook.upload_media(_tiny_png()).media_uuid
        sdk_task = MediaStorageParams(
            taskType="mediaStorage", taskUUID=str(uuid.uuid4()), operation="delete", media=first
        )
        response = emulator.call([dict(sdk_task)])
        assert response.status_code == 200, response.text
        assert response.json()["data"][0]["mediaUUID"] == first
        hook.delete_media(second)
    assert emulator.ledger()["media_deletes"] == 2


def test_emulator_refuses_the_old_media_uuid_key(emulator) -> None:  # type: ignore[no-untyped-def]
    task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "delete"}
    response = emulator.call([{**task, "mediaUUID": str(uuid.uuid4())}])
    assert response.status_code == 400
    assert {e["parameter"] for e in response.json()["errors"]} & {"mediaUUID", "media"}


@pytest.mark.parametrize("media", ["", "not-a-uuid"])
def test_emulator_delete_needs_a_uuid_in_media(emulator, media: str) -> None:  # type: ignore[no-untyped-def]
    task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "delete", "media": media}
    response = emulator.call([task])
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "media"


# --- the Wan family's declared requests, against the SDK's curated types ----------------------------

_SDK_TYPES = {
    "alibaba:wan@2.6": "AlibabaWan26Params",
    "alibaba:wan@2.6-flash": "AlibabaWan26FlashParams",
    "alibaba:wan@3.0": "AlibabaWan30Params",
    "alibaba:wan@3.0-prime": "AlibabaWan30PrimeParams",
}
_ENVELOPE = {"taskType", "taskUUID", "model", "deliveryMethod"}


def _sdk(model: str) -> dict[str, Any]:
    from runware.types import task_map

    return typing.get_type_hints(getattr(task_map, _SDK_TYPES[model]))


def _literals(hint: Any) -> set[Any]:
    return set(typing.get_args(hint)) if typing.get_origin(hint) is typing.Literal else set()


@pytest.mark.parametrize("model", sorted(_SDK_TYPES))
def test_provider_family_data_matches_the_sdk(model: str) -> None:
    from airflow_provider_wan.wan_family import WAN_FAMILY

    spec, hints = WAN_FAMILY[model], _sdk(model)
    assert _literals(hints["model"]) == {model}
    assert spec.fields == set(hints) - _ENVELOPE
    assert set(spec.resolutions) == _literals(hints["resolution"])
    durations = hints["duration"]
    assert (spec.durations is not None) == bool(_literals(durations))
    if spec.durations is not None:
        assert set(spec.durations) == _literals(durations)
    assert spec.string_durations == (str in typing.get_args(durations))
    other_group = ({"settings", "providerSettings"} - {spec.settings_group}).pop()
    assert spec.settings_group in hints and other_group not in hints


@pytest.mark.parametrize("model", sorted(_SDK_TYPES))
def test_emulator_family_data_matches_the_sdk(model: str) -> None:
    from airflow_provider_wan.emulator.other_models import FAMILY

    spec, hints = FAMILY[model], _sdk(model)
    assert spec.keys == set(hints) - _ENVELOPE
    assert set(spec.resolutions) == _literals(hints["resolution"])
    assert (set(spec.durations) if spec.durations else set()) == _literals(hints["duration"])
    assert spec.string_durations == (str in typing.get_args(hints["duration"]))


def test_wan27_sdk_fields_are_ours_or_routing() -> None:
    from runware.types.task_map import AlibabaWan27Params

    from airflow_provider_wan.models import WIRE_PATHS

    ours = {path.split(".")[0] for path in WIRE_PATHS.values()}
    assert set(typing.get_type_hints(AlibabaWan27Params)) - _ENVELOPE - ours == {"routing"}


@pytest.mark.parametrize("model", sorted(_SDK_TYPES))
def test_an_sdk_shaped_request_passes_both_sides(emulator, model: str) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_wan.generic import RunwareVideoRequest

    duration = "5" if model.startswith("alibaba:wan@3") else 5
    request = RunwareVideoRequest.build(
        model, {"positivePrompt": "a lighthouse in fog", "resolution": "720p", "duration": duration}
    )
    with RunwareHook() as hook:
        assert not hook.submit_video(request, str(uuid.uuid4())).already_submitted
