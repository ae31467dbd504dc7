"""The wire shapes we send, checked against Runware's own Python SDK types (``runware-sdk``, dev extra)."""

from __future__ import annotations

import typing
import uuid

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
