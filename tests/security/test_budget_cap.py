"""``max_cost_usd`` is a hard cap on what one task instance spends, across all its generations.

Driven through the operator's arguments and ``execute`` against the emulator, whose ledger witnesses what
was charged; each ``execute`` with the same task instance identity is one try of that task instance.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any
from unittest import mock

import pytest

from airflow_provider_wan.compat import AirflowFailException
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.operators.video import WanVideoOperator
from tests.dags.operator_flows import FAST
from tests.media.conftest import make_mp4

pytestmark = pytest.mark.usefixtures("airflow_db")

# 720p x 2 s: $0.20 per generation.
REQUEST: dict[str, Any] = {"positive_prompt": "a lighthouse in a storm", "size": "720p_16_9", "duration": 2}


def _ti(run_id: str = "r1") -> Any:
    return mock.MagicMock(dag_id="budget", task_id="gen", run_id=run_id, map_index=-1)


def _try(run_id: str = "r1", **kwargs: Any) -> Any:
    """One try of the task instance ``budget.gen`` of ``run_id`` (a fresh operator, as on a new worker)."""
    op = WanVideoOperator(task_id="gen", **{**REQUEST, **FAST, **kwargs})
    return op.execute({"ti": _ti(run_id)})  # type: ignore[arg-type]


def test_failed_generations_count_against_the_cap(emulator: Any) -> None:
    emulator.set_faults(p_generation_fail=1.0)  # every generation fails, and is billed
    for _ in range(2):  # tries 1 and 2: $0.00 + $0.20 and $0.20 + $0.20 fit a $0.50 cap
        with pytest.raises(RunwareError, match="timeoutProvider"):
            _try(max_cost_usd=0.5)
    assert emulator.ledger()["submissions"] == 2
    # Try 3: $0.40 spent + $0.20 would pass $0.50. Refused, without retries, and nothing submitted.
    with pytest.raises(AirflowFailException, match=r"max_cost_usd \$0\.5000") as info:
        _try(max_cost_usd=0.5)
    failed = [t["taskUUID"] for t in emulator.ledger()["tasks"]]
    assert "$0.4000" in str(info.value) and all(u in str(info.value) for u in failed)
    ledger = emulator.ledger()
    assert ledger["submissions"] == 2 and ledger["charged_usd"] == pytest.approx(0.4)
    # Another task instance (another run) has its own budget.
    with pytest.raises(RunwareError, match="timeoutProvider"):
        _try("r2", max_cost_usd=0.5)
    assert emulator.ledger()["submissions"] == 3


def test_cap_reached_exactly_still_submits_and_lower_cap_reattaches(emulator: Any) -> None:
    emulator.set_faults(p_generation_fail=1.0)
    for _ in range(3):  # $0.20 x 3 = $0.60: the third generation lands exactly on the cap
        with pytest.raises(RunwareError, match="timeoutProvider"):
            _try(max_cost_usd=0.6)
    assert emulator.ledger()["submissions"] == 3
    # A lower cap later: the generations already paid are re-attached to (free), the next one is refused.
    with pytest.raises(AirflowFailException, match="3 earlier generation") as info:
        _try(max_cost_usd=0.5)
    assert "$0.6000" in str(info.value) and "$0.8000" in str(info.value)
    ledger = emulator.ledger()
    assert ledger["submissions"] == 3 and ledger["charged_usd"] == pytest.approx(0.6)


@pytest.mark.parametrize("rendered", ["", "None", "  ", "nan", "inf", "about a dollar", "-0.5"])
def test_cap_that_renders_nothing_or_no_number_is_an_error(emulator: Any, rendered: str) -> None:
    op = WanVideoOperator(task_id="gen", max_cost_usd="{{ params.cap }}", **REQUEST, **FAST)
    op.max_cost_usd = rendered  # as Jinja left it just before execute
    ti = _ti()
    with pytest.raises(AirflowFailException, match="max_cost_usd"):
        op.execute({"ti": ti})  # type: ignore[arg-type]
    assert emulator.ledger()["http_requests"] == 0
    ti.xcom_push.assert_not_called()


@pytest.mark.parametrize("video", ["http://127.0.0.1:9/clip.mp4", str(uuid.UUID(int=7, version=4))])
def test_unknown_length_of_a_reference_video_is_refused_under_a_cap(emulator: Any, video: str) -> None:
    with pytest.raises(AirflowFailException, match="input_video_seconds"):
        _try(reference_videos=[video], max_cost_usd=1.0)
    assert emulator.ledger()["http_requests"] == 0
    # Stated, the seconds count: 30 s of input at 720p is $3.00 on top of the output.
    with pytest.raises(AirflowFailException, match=r"\$3\.2000 exceeds max_cost_usd"):
        _try(reference_videos=[video], max_cost_usd=1.0, input_video_seconds=30)
    assert emulator.ledger()["http_requests"] == 0


@pytest.mark.parametrize("where", ["file", "s3"])
def test_without_pyav_local_and_s3_videos_fail_closed_under_a_cap(
    emulator: Any, request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    clip = make_mp4(seconds=2.0)  # made while PyAV is still importable
    if where == "file":
        (tmp_path / "clip.mp4").write_bytes(clip)
        video = str(tmp_path / "clip.mp4")
    else:
        request.getfixturevalue("aws_conn")
        bucket = request.getfixturevalue("s3_bucket")
        request.getfixturevalue("s3_client").put_object(Bucket=bucket, Key="in/clip.mp4", Body=clip)
        video = f"s3://{bucket}/in/clip.mp4"
    monkeypatch.setitem(sys.modules, "av", None)  # the base install: PyAV is not there
    with pytest.raises(AirflowFailException, match="input_video_seconds") as info:
        _try(reference_videos=[video], max_cost_usd=5.0)
    assert "airflow-provider-wan[media]" in str(info.value)
    ledger = emulator.ledger()
    assert ledger["http_requests"] == 0 and ledger["media_uploads"] == 0
    # The fix the message names: stated seconds are counted (and refused here by the estimate).
    with pytest.raises(AirflowFailException, match=r"\$2\.2000 exceeds max_cost_usd"):
        _try(reference_videos=[video], max_cost_usd=1.0, input_video_seconds=20)
    assert emulator.ledger()["http_requests"] == 0
