"""Input resolution against a real S3 API (moto server), the Runware emulator and respx mocks."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.idempotency import media_task_uuid
from airflow_provider_wan.media.checks import MediaLimits, check_media_inputs
from airflow_provider_wan.media.references import classify_reference
from airflow_provider_wan.media.uploads import resolve_media_inputs
from airflow_provider_wan.models import WanVideoRequest
from tests.media.conftest import MediaServer, make_mp4

SCOPE = "dag/task/run-1/-1"
RUNWARE = "https://runware.test/v1"


def _t2v(**fields: Any) -> dict[str, Any]:
    return {"positive_prompt": "a fox", "width": 1280, "height": 720, "duration": 5, **fields}


def needs_resolution(request: Any) -> bool:
    """Whether the validated request holds references Runware cannot take as they are."""
    return bool(WanVideoRequest.from_any(request).unresolved_media)


# ---------------------------------------------------------------------------------------------------
# Happy paths


def test_first_frame_from_s3_is_inlined_as_data_uri(
    aws_conn: str, s3_client: Any, s3_bucket: str, png_bytes: bytes, runware_hook: RunwareHook, emulator: Any
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="frames/first.png", Body=png_bytes)
    request = {
        "positive_prompt": "the frame comes alive",
        "frame_images": [{"image": f"s3://{s3_bucket}/frames/first.png"}],
    }
    assert needs_resolution(request)

    resolved = resolve_media_inputs(request, hook=runware_hook, aws_conn_id=aws_conn, scope=SCOPE)

    image = resolved.request.frame_images[0].image  # type: ignore[index]
    assert image.startswith("data:image/png;base64,")
    assert base64.b64decode(image.split(",", 1)[1]) == png_bytes
    assert resolved.input_video_seconds == 0.0
    (media,) = resolved.media
    assert media.parameter == "inputs.frameImages[0].image" and media.form == "data_uri"
    assert media.source == f"s3://{s3_bucket}/frames/first.png" and media.media_format == "png"
    assert emulator.ledger()["http_requests"] == 0  # inlined: no Runware request at all
    # The emulator accepts what we produced.
    ack = runware_hook.submit_video(resolved.request, str(uuid.uuid4()))
    assert not ack.already_submitted


def test_local_reference_video_is_uploaded_and_probed_audio_url_passes_through(
    tmp_path: Path,
    mp4_bytes: bytes,
    wav_bytes: bytes,
    media_server: MediaServer,
    runware_hook: RunwareHook,
    emulator: Any,
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(mp4_bytes)
    audio_url = media_server.add("/voice.wav", wav_bytes, content_type="audio/wav")
    request = _t2v(reference_videos=[str(clip)], audio=audio_url)

    resolved = resolve_media_inputs(request, hook=runware_hook, aws_conn_id=None, scope=SCOPE)

    video_uuid = resolved.request.reference_videos[0]  # type: ignore[index]
    assert uuid.UUID(video_uuid)
    assert resolved.request.audio == audio_url
    assert resolved.input_video_seconds == pytest.approx(1.0, abs=0.05)
    video, audio = resolved.media
    assert video.form == "media_storage" and video.media_uuid == video_uuid and not video.reused
    assert video.duration_seconds == pytest.approx(1.0, abs=0.05) and video.size_bytes == len(mp4_bytes)
    assert audio.form == "url" and media_server.requests == {}  # passed through, never fetched by us
    assert emulator.ledger()["media_uploads"] == 1
    # The emulator accepts the stored UUID and the audio URL.
    runware_hook.submit_video(resolved.request, str(uuid.uuid4()))


def test_file_uri_and_wire_form_request(tmp_path: Path, mp4_bytes: bytes, runware_hook: RunwareHook) -> None:
    clip = tmp_path / "a clip.mp4"
    clip.write_bytes(mp4_bytes)
    wire = {
        "positivePrompt": "x",
        "width": 1280,
        "height": 720,
        "inputs": {"referenceVideos": [clip.as_uri()]},
    }
    assert needs_resolution(wire) and needs_resolution(json.dumps(wire))
    resolved = resolve_media_inputs(wire, hook=runware_hook, aws_conn_id=None, scope=SCOPE)
    assert uuid.UUID(resolved.request.reference_videos[0])  # type: ignore[index]


def test_presigned_mode_masks_url_and_probes_remotely(
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
    mp4_bytes: bytes,
    runware_hook: RunwareHook,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import airflow.sdk.log

    masked: list[str] = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", masked.append)
    s3_client.put_object(Bucket=s3_bucket, Key="in/clip.mp4", Body=mp4_bytes)

    resolved = resolve_media_inputs(
        _t2v(reference_videos=[f"s3://{s3_bucket}/in/clip.mp4"]),
        hook=runware_hook,
        aws_conn_id=aws_conn,
        scope=SCOPE,
        s3_input_mode="presigned_url",
    )

    url = resolved.request.reference_videos[0]  # type: ignore[index]
    assert url in masked
    assert httpx.get(url).content == mp4_bytes  # a working GET URL
    assert resolved.input_video_seconds == pytest.approx(1.0, abs=0.05)  # probed through ranged GETs
    assert resolved.media[0].form == "presigned_url"
    assert url not in resolved.media[0].describe() and url not in json.dumps(resolved.to_dict())
    assert emulator.ledger()["media_uploads"] == 0
    runware_hook.submit_video(resolved.request, str(uuid.uuid4()))  # the emulator fetches it from moto

    # A retry presigns again (a different URL) but the fingerprint for the task UUID stays the same.
    time.sleep(1.1)
    retry = resolve_media_inputs(
        _t2v(reference_videos=[f"s3://{s3_bucket}/in/clip.mp4"]),
        hook=runware_hook,
        aws_conn_id=aws_conn,
        scope=SCOPE,
        s3_input_mode="presigned_url",
    )
    assert retry.request.reference_videos != resolved.request.reference_videos
    # So the task UUID derives from the user's request (the same on every attempt), never the resolved one.
    assert retry.request.fingerprint() != resolved.request.fingerprint()
    user = WanVideoRequest(**_t2v(reference_videos=[f"s3://{s3_bucket}/in/clip.mp4"]))
    assert user.with_media({"inputs.referenceVideos[0]": url}) == resolved.request


def test_large_image_is_uploaded_instead_of_inlined(
    tmp_path: Path, png_bytes: bytes, runware_hook: RunwareHook, emulator: Any
) -> None:
    path = tmp_path / "ref.png"
    path.write_bytes(png_bytes)
    limits = MediaLimits(inline_image_max_bytes=len(png_bytes) - 1)
    resolved = resolve_media_inputs(
        _t2v(reference_images=[str(path)]), hook=runware_hook, aws_conn_id=None, scope=SCOPE, limits=limits
    )
    assert uuid.UUID(resolved.request.reference_images[0])  # type: ignore[index]
    assert emulator.ledger()["media_uploads"] == 1


def test_inline_image_forms_pass_through_checked(png_bytes: bytes) -> None:
    b64 = base64.b64encode(png_bytes + b"\x00" * 64).decode()
    data_uri = f"data:image/png;base64,{b64}"
    request = _t2v(reference_images=[data_uri, b64, "https://cdn.example/x.png", str(uuid.uuid4())])
    assert not needs_resolution(request)
    resolved = resolve_media_inputs(request, hook=None, aws_conn_id=None, scope=SCOPE)
    assert resolved.request.reference_images == request["reference_images"]
    assert [m.form for m in resolved.media] == ["data_uri", "base64", "url", "uuid"]
    assert resolved.media[0].size_bytes == len(png_bytes) + 64
    assert "base64" not in repr(resolved.request) or b64 not in repr(resolved.request)


def test_unprobeable_videos_report_none_unless_stated() -> None:
    request = WanVideoRequest(**_t2v(reference_videos=["https://cdn.example/a.mp4", str(uuid.uuid4())]))
    assert not needs_resolution(request)
    assert resolve_media_inputs(request, hook=None, scope=SCOPE).input_video_seconds is None
    resolved = resolve_media_inputs(request, hook=None, scope=SCOPE, input_video_seconds=7.5)
    assert resolved.input_video_seconds == 7.5
    assert resolved.unprobed_videos == ["inputs.referenceVideos[0]", "inputs.referenceVideos[1]"]


# ---------------------------------------------------------------------------------------------------
# Idempotency


def test_same_content_twice_in_one_call_is_uploaded_once(
    tmp_path: Path,
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
    mp4_bytes: bytes,
    runware_hook: RunwareHook,
    emulator: Any,
) -> None:
    (tmp_path / "a.mp4").write_bytes(mp4_bytes)
    s3_client.put_object(Bucket=s3_bucket, Key="same.mp4", Body=mp4_bytes)
    request = _t2v(reference_videos=[str(tmp_path / "a.mp4"), f"s3://{s3_bucket}/same.mp4"])
    resolved = resolve_media_inputs(request, hook=runware_hook, aws_conn_id=aws_conn, scope=SCOPE)
    first, second = resolved.request.reference_videos  # type: ignore[misc]
    assert first == second and resolved.media[1].reused
    assert resolved.input_video_seconds == pytest.approx(2.0, abs=0.1)
    assert emulator.ledger()["media_uploads"] == 1


@respx.mock
def test_retry_recovers_media_uuid_via_conflict_and_task_details(
    tmp_path: Path, mp4_bytes: bytes, runware_conn: str
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(mp4_bytes)
    media_uuid = str(uuid.uuid4())
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        task = json.loads(request.content)[0]
        seen.append(task)
        if task["taskType"] == "mediaStorage":
            if sum(t["taskType"] == "mediaStorage" for t in seen) == 1:
                return httpx.Response(
                    200,
                    json={
                        "data": [
                            {
                                "taskType": "mediaStorage",
                                "taskUUID": task["taskUUID"],
                                "mediaUUID": media_uuid,
                            }
                        ]
                    },
                )
            return httpx.Response(
                400,
                json={
                    "errors": [{"code": "conflictTaskUUID", "message": "used", "taskUUID": task["taskUUID"]}]
                },
            )
        assert task["taskType"] == "getTaskDetails"
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "taskType": "getTaskDetails",
                        "taskUUID": task["taskUUID"],
                        "request": [{}],
                        "response": {"data": [{"taskUUID": task["taskUUID"], "mediaUUID": media_uuid}]},
                    }
                ]
            },
        )

    respx.post(RUNWARE).mock(side_effect=answer)
    with RunwareHook() as hook:
        first = resolve_media_inputs(_t2v(reference_videos=[str(clip)]), hook=hook, scope=SCOPE)
        again = resolve_media_inputs(_t2v(reference_videos=[str(clip)]), hook=hook, scope=SCOPE)

    assert first.request.reference_videos == again.request.reference_videos == [media_uuid]
    assert not first.media[0].reused and again.media[0].reused
    uploads = [t for t in seen if t["taskType"] == "mediaStorage"]
    assert len(uploads) == 2 and uploads[0]["taskUUID"] == uploads[1]["taskUUID"]
    assert uuid.UUID(uploads[0]["taskUUID"]).version == 4
    assert [t["taskType"] for t in seen].count("getTaskDetails") == 1
    # A different scope (another DAG run) is a different upload task.
    assert media_task_uuid("abc", "run-1") != media_task_uuid("abc", "run-2")


@respx.mock
def test_lost_answer_then_conflict_is_recovered_within_one_call(
    tmp_path: Path, wav_bytes: bytes, runware_conn: str
) -> None:
    clip = tmp_path / "voice.wav"
    clip.write_bytes(wav_bytes)
    media_uuid = str(uuid.uuid4())
    answers = iter(
        [
            lambda t: httpx.Response(
                503, json={"errors": [{"code": "serviceUnavailable"}]}
            ),  # stored, answer lost
            lambda t: httpx.Response(400, json={"errors": [{"code": "conflictTaskUUID", "taskUUID": t}]}),
            # Details in the flat shape (mediaUUID on the item itself) are accepted too.
            lambda t: httpx.Response(200, json={"data": [{"taskUUID": t, "mediaUUID": media_uuid}]}),
        ]
    )
    route = respx.post(RUNWARE).mock(
        side_effect=lambda request: next(answers)(json.loads(request.content)[0]["taskUUID"])
    )
    with RunwareHook() as hook:
        resolved = resolve_media_inputs(_t2v(audio=str(clip)), hook=hook, scope=SCOPE)
    assert resolved.request.audio == media_uuid and route.call_count == 3


@respx.mock
def test_burnt_upload_uuid_moves_to_next_derivation(
    tmp_path: Path, wav_bytes: bytes, runware_conn: str
) -> None:
    clip = tmp_path / "voice.wav"
    clip.write_bytes(wav_bytes)
    media_uuid = str(uuid.uuid4())
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        task = json.loads(request.content)[0]
        sent.append(task["taskType"])
        if task["taskType"] == "getTaskDetails":  # the earlier upload failed: no media in its details
            return httpx.Response(
                200, json={"data": [{"taskUUID": task["taskUUID"], "response": {"errors": []}}]}
            )
        if sent.count("mediaStorage") == 1:
            return httpx.Response(
                400, json={"errors": [{"code": "conflictTaskUUID", "taskUUID": task["taskUUID"]}]}
            )
        return httpx.Response(200, json={"data": [{"taskUUID": task["taskUUID"], "mediaUUID": media_uuid}]})

    respx.post(RUNWARE).mock(side_effect=answer)
    with RunwareHook() as hook:
        resolved = resolve_media_inputs(_t2v(audio=str(clip)), hook=hook, scope=SCOPE)
    assert resolved.request.audio == media_uuid
    assert sent == ["mediaStorage", "getTaskDetails", "mediaStorage"]


def test_emulator_resend_of_upload_is_answered_by_conflict(
    tmp_path: Path, mp4_bytes: bytes, runware_hook: RunwareHook, emulator: Any
) -> None:
    """Against the emulator: a second resolve (a task retry) re-sends the same upload taskUUID, gets
    conflictTaskUUID, recovers the media UUID from getTaskDetails and never stores the clip again."""
    # On the wire first: a resent upload is refused, its details hold the stored media.
    task = {
        "taskType": "mediaStorage",
        "taskUUID": str(uuid.uuid4()),
        "operation": "upload",
        "media": base64.b64encode(make_mp4(seconds=0.2)).decode(),
    }
    stored = emulator.call([task]).json()["data"][0]
    resent = emulator.call([task])
    assert resent.status_code == 400 and resent.json()["errors"][0]["code"] == "conflictTaskUUID"
    details = emulator.call([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}]).json()
    assert details["data"][0]["response"]["data"][0]["mediaUUID"] == stored["mediaUUID"]
    assert emulator.ledger()["media_uploads"] == 1
    emulator.reset()

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(mp4_bytes)
    first = resolve_media_inputs(_t2v(reference_videos=[str(clip)]), hook=runware_hook, scope=SCOPE)
    again = resolve_media_inputs(_t2v(reference_videos=[str(clip)]), hook=runware_hook, scope=SCOPE)

    assert first.request.reference_videos == again.request.reference_videos
    assert not first.media[0].reused and again.media[0].reused
    ledger = emulator.ledger()
    assert ledger["media_uploads"] == 1
    assert ledger["conflicts"] == 1 and ledger["conflicts_by_task_type"] == {"mediaStorage": 1}
    assert ledger["rejected"] == {"conflictTaskUUID": 1}
    assert ledger["requests"] == {"mediaStorage": 2, "getTaskDetails": 1}
    # The UUID really is the one the emulator stored, and the request accepts it.
    (media_uuid,) = again.request.reference_videos  # type: ignore[misc]
    assert emulator.state.media.get(media_uuid) is not None
    ack = runware_hook.submit_video(again.request, str(uuid.uuid4()))
    assert not ack.already_submitted


# ---------------------------------------------------------------------------------------------------
# Bad inputs: clear errors, nothing sent to Runware


@pytest.fixture
def silent_runware(runware_conn: str) -> Any:
    """A hook whose every Runware request would be recorded (there must be none)."""
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(RUNWARE).mock(return_value=httpx.Response(500))
        with RunwareHook() as hook:
            yield hook
        assert route.call_count == 0


def test_missing_s3_key_names_parameter_and_uri(
    aws_conn: str, s3_bucket: str, silent_runware: RunwareHook
) -> None:
    request = {"frame_images": [{"image": f"s3://{s3_bucket}/nope.png"}], "resolution": "720p"}
    with pytest.raises(InvalidRequestError) as info:
        resolve_media_inputs(request, hook=silent_runware, aws_conn_id=aws_conn, scope=SCOPE)
    assert info.value.parameter == "inputs.frameImages[0].image"
    assert f"s3://{s3_bucket}/nope.png" in str(info.value) and "not found" in str(info.value)


def test_missing_bucket(aws_conn: str, moto_s3: str, silent_runware: RunwareHook) -> None:
    with pytest.raises(InvalidRequestError, match="not found") as info:
        resolve_media_inputs(
            _t2v(audio="s3://no-such-bucket-here/a.wav"),
            hook=silent_runware,
            aws_conn_id=aws_conn,
            scope=SCOPE,
        )
    assert info.value.parameter == "inputs.audio"


def test_text_file_as_video_after_a_valid_upload_candidate(
    tmp_path: Path,
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
    wav_bytes: bytes,
    silent_runware: RunwareHook,
) -> None:
    (tmp_path / "ok.wav").write_bytes(wav_bytes)
    s3_client.put_object(Bucket=s3_bucket, Key="notes.txt", Body=b"hello, this is not a video at all")
    request = _t2v(audio=str(tmp_path / "ok.wav"), reference_videos=[f"s3://{s3_bucket}/notes.txt"])
    with pytest.raises(InvalidRequestError) as info:
        resolve_media_inputs(request, hook=silent_runware, aws_conn_id=aws_conn, scope=SCOPE)
    error = info.value
    assert error.parameter == "inputs.referenceVideos[0]" and error.code == "unsupportedMediaFormat"
    # Named and described, never quoted: the object could hold anything.
    assert "notes.txt" in str(error) and "found text" in str(error) and "hello" not in str(error)
    assert error.allowed_values == ["mp4", "mov", "webm"]


def test_oversize_and_wrong_kind(
    tmp_path: Path, png_bytes: bytes, wav_bytes: bytes, silent_runware: RunwareHook
) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(wav_bytes)
    with pytest.raises(InvalidRequestError, match="exceeds the audio limit") as info:
        resolve_media_inputs(
            _t2v(audio=str(big)), hook=silent_runware, scope=SCOPE, limits=MediaLimits(max_audio_bytes=100)
        )
    assert info.value.parameter == "inputs.audio" and info.value.code == "invalidMediaSize"
    image = tmp_path / "img.png"
    image.write_bytes(png_bytes)
    with pytest.raises(InvalidRequestError, match=r"found png \(image\)") as info:
        resolve_media_inputs(_t2v(reference_videos=[str(image)]), hook=silent_runware, scope=SCOPE)
    assert info.value.parameter == "inputs.referenceVideos[0]"


def test_missing_local_file_and_bad_data_uri(
    tmp_path: Path, silent_runware: RunwareHook, png_bytes: bytes
) -> None:
    missing = str(tmp_path / "no" / "such" / "file.png")  # under an allowed folder: outside it is refused
    with pytest.raises(InvalidRequestError, match="file not found") as info:
        resolve_media_inputs(_t2v(reference_images=[missing]), hook=silent_runware, scope=SCOPE)
    assert info.value.parameter == "inputs.referenceImages[0]"
    jpeg_claim = "data:image/jpeg;base64," + base64.b64encode(png_bytes).decode()
    with pytest.raises(InvalidRequestError, match="declares image/jpeg but the bytes are png"):
        resolve_media_inputs(_t2v(reference_images=[jpeg_claim]), hook=silent_runware, scope=SCOPE)
    with pytest.raises(InvalidRequestError, match="unsupported scheme") as info:
        resolve_media_inputs(_t2v(audio="gs://bucket/a.wav"), hook=silent_runware, scope=SCOPE)
    assert info.value.parameter == "inputs.audio"


def test_corrupt_video_with_valid_magic_is_rejected(tmp_path: Path, silent_runware: RunwareHook) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)
    with pytest.raises(InvalidRequestError, match="cannot be read as a video"):
        resolve_media_inputs(_t2v(reference_videos=[str(bad)]), hook=silent_runware, scope=SCOPE)


def test_other_rules_are_checked_before_media_work(
    aws_conn: str, s3_calls: Any, silent_runware: RunwareHook
) -> None:
    # duration 15 with references breaks a model rule: no S3 request is made at all.
    with pytest.raises(InvalidRequestError) as info:
        resolve_media_inputs(
            _t2v(duration=15, reference_videos=["s3://b/clip.mp4"]),
            hook=silent_runware,
            aws_conn_id=aws_conn,
            scope=SCOPE,
        )
    assert info.value.parameter == "duration" and sum(s3_calls.values()) == 0


# ---------------------------------------------------------------------------------------------------
# Helpers


@pytest.mark.parametrize(
    ("value", "kind", "form"),
    [
        ("s3://b/k.mp4", "video", "s3"),
        ("file:///tmp/x.mp4", "video", "file"),
        ("https://x/y.mp4?sig=1", "video", "url"),
        ("data:image/png;base64,iVBO", "image", "data_uri"),
        ("2f1c8b8e-3d0b-4a55-9a53-7d3f6f2b1a10", "image", "uuid"),
        ("clip.mp4", "video", "file"),
        ("/data/in/clip", "video", "file"),
        ("ftp://host/x", "audio", "unsupported"),
    ],
)
def test_classify_reference(value: str, kind: Any, form: str) -> None:
    assert classify_reference(value, kind) == form


def test_plain_base64_is_recognised(png_bytes: bytes) -> None:
    assert classify_reference(base64.b64encode(png_bytes + b"\x00" * 60).decode(), "image") == "base64"


def test_errors_are_runware_family() -> None:
    assert issubclass(InvalidRequestError, RunwareError)


def test_parse_time_imports_stay_light() -> None:
    code = (
        "import sys, airflow_provider_wan.media.checks, airflow_provider_wan.media.uploads; "
        "import airflow_provider_wan.media.delivery; "
        "bad = [n for n in ('boto3', 'botocore', 'av', 'airflow.providers.amazon') if n in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validated_request_carries_references_unresolved_and_resolution_copies_it(
    tmp_path: Path, mp4_bytes: bytes, runware_hook: RunwareHook
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(mp4_bytes)
    request = WanVideoRequest(**_t2v(reference_videos=[str(clip)], audio="https://cdn.example/v.wav"))
    assert request.reference_videos == [str(clip)]  # as the user wrote it, no placeholder
    fingerprint = request.fingerprint()
    assert (
        fingerprint
        == WanVideoRequest(
            **_t2v(reference_videos=[str(clip)], audio="https://cdn.example/v.wav")
        ).fingerprint()
    )
    resolved = resolve_media_inputs(request, hook=runware_hook, scope=SCOPE)
    assert resolved.request.unresolved_media == () and uuid.UUID(resolved.request.reference_videos[0])  # type: ignore[index]
    assert resolved.request.audio == request.audio and resolved.request.duration == request.duration
    assert request.fingerprint() == fingerprint and request.reference_videos == [str(clip)]  # unchanged


def test_s3_failure_while_probing_is_a_transient_s3_error(
    s3_client: Any, s3_bucket: str, mp4_bytes: bytes, silent_runware: RunwareHook
) -> None:
    from botocore.exceptions import ClientError

    s3_client.put_object(Bucket=s3_bucket, Key="clip.mp4", Body=mp4_bytes)
    calls = {"get": 0}

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(s3_client, name)

        def get_object(self, **kwargs: Any) -> Any:
            calls["get"] += 1
            if calls["get"] > 1:  # the sniffing read works, the probe's reads fail
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
            return s3_client.get_object(**kwargs)

    with pytest.raises(RunwareError) as info:
        resolve_media_inputs(
            _t2v(reference_videos=[f"s3://{s3_bucket}/clip.mp4"]),
            hook=silent_runware,
            scope=SCOPE,
            s3=Flaky(),
        )
    assert info.value.code == "s3Error" and info.value.retryable
    assert info.value.parameter == "inputs.referenceVideos[0]" and "SlowDown" in str(info.value)


# ---------------------------------------------------------------------------------------------------
# Check, then decide, then upload: the two phases on their own


def test_check_probes_without_runware_then_resolve_uploads(
    tmp_path: Path, aws_conn: str, emulator: Any, runware_hook: RunwareHook
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_mp4(seconds=2.0))
    request = _t2v(reference_videos=[str(clip), "https://cdn.example.com/ref.mp4"])
    checked = check_media_inputs(request, aws_conn_id=aws_conn, input_video_seconds=3.0)
    # Probed 2 s of the file plus the stated 3 s of the URL video, and nothing sent to Runware yet:
    # a caller can refuse the budget at this point for free.
    assert checked.input_video_seconds == pytest.approx(5.0)
    assert checked.request == WanVideoRequest(**request)  # validated once, carried as is
    assert emulator.ledger()["http_requests"] == 0

    resolved = checked.resolve(hook=runware_hook, scope=SCOPE)
    assert emulator.ledger()["media_uploads"] == 1
    stored, url = resolved.request.reference_videos or []
    assert resolved.media[0].media_uuid == stored and url == "https://cdn.example.com/ref.mp4"
    assert resolved.input_video_seconds == checked.input_video_seconds
    assert resolved.request == checked.request.with_media({"inputs.referenceVideos[0]": stored})


def test_default_limits_are_looked_up_at_call_time(
    tmp_path: Path, png_bytes: bytes, silent_runware: RunwareHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_wan.media import checks

    image = tmp_path / "img.png"
    image.write_bytes(png_bytes)
    monkeypatch.setattr(checks, "DEFAULT_LIMITS", MediaLimits(max_image_bytes=len(png_bytes) - 1))
    with pytest.raises(InvalidRequestError, match="exceeds the image limit") as info:
        resolve_media_inputs(_t2v(reference_images=[str(image)]), hook=silent_runware, scope=SCOPE)
    assert info.value.parameter == "inputs.referenceImages[0]"


@pytest.mark.parametrize("form", ["dict", "wire", "json", "repr"])
def test_every_request_form_keeps_local_and_s3_references(form: str) -> None:
    snake = _t2v(reference_videos=["/data/clip.mp4", "s3://b/c.mp4"], audio="/data/voice.wav", seed=3)
    wire = {
        "positivePrompt": "a fox",
        "width": 1280,
        "height": 720,
        "duration": 5,
        "seed": 3,
        "inputs": {"referenceVideos": ["/data/clip.mp4", "s3://b/c.mp4"], "audio": "/data/voice.wav"},
    }
    given: Any = {"dict": snake, "wire": wire, "json": json.dumps(snake), "repr": repr(snake)}[form]
    request = WanVideoRequest.from_any(given)
    assert request.reference_videos == ["/data/clip.mp4", "s3://b/c.mp4"]
    assert request.audio == "/data/voice.wav" and request.seed == 3
    assert [ref.form for ref in request.unresolved_media] == ["file", "s3", "file"]
