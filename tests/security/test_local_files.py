"""Local files are read only from allowed folders (checked as written and after resolving symlinks), and
no error message quotes a file's content.

Hostile paths arrive as ``dag_run.conf`` rendered into ``reference_images`` (``dag.test()``), or as operator
and ``check_media_inputs`` arguments; the emulator's ledger proves nothing reached Runware.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from unittest import mock

import pendulum
import pytest

from airflow_provider_wan.compat import AirflowFailException
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.media.checks import check_media_inputs
from airflow_provider_wan.operators.video import WanVideoOperator
from tests.conftest import load_dag
from tests.media.conftest import make_png

pytestmark = pytest.mark.usefixtures("airflow_db")

PASSWD = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
T2V = {"positive_prompt": "p", "width": 1280, "height": 720, "duration": 2}


def _run(monkeypatch: pytest.MonkeyPatch, roots: str | None, image: str) -> Any:
    if roots is None:
        monkeypatch.delenv("AIRFLOW__WAN__ALLOWED_LOCAL_ROOTS", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW__WAN__ALLOWED_LOCAL_ROOTS", roots)
    when = pendulum.now("UTC")
    dag = load_dag("tests.dags.security_trust_flows", "local_image_dag")
    return dag.test(logical_date=when, run_after=when, run_conf={"image": image})


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A real PNG in a folder that is not allowed."""
    path = tmp_path / "secret" / "private.png"
    path.parent.mkdir()
    path.write_bytes(make_png())
    return path


def test_by_default_a_real_image_outside_the_dags_folder_is_not_sent(
    outside: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    dr = _run(monkeypatch, None, str(outside))
    assert dr.state == "failed"
    assert emulator.ledger()["http_requests"] == 0  # neither inlined nor uploaded: nothing sent at all
    out = "".join(capfd.readouterr())
    assert "allowed_local_roots" in out and "outside the folders" in out


@pytest.mark.parametrize(
    "hostile",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "~/.netrc",
        "{allowed}/../secret/private.png",
        "{allowed}/link.png",  # a symlink inside the allowed folder to a file outside
        "{allowed}/linked_dir/private.png",  # a symlinked folder leading out
    ],
)
def test_hostile_paths_are_refused_before_any_request(
    hostile: str,
    tmp_path: Path,
    outside: Path,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "link.png").symlink_to(outside)
    (allowed / "linked_dir").symlink_to(outside.parent, target_is_directory=True)
    dr = _run(monkeypatch, str(allowed), hostile.format(allowed=allowed))
    assert dr.state == "failed"
    assert emulator.ledger()["http_requests"] == 0
    out = "".join(capfd.readouterr())
    assert "inputs.referenceImages[0]" in out
    assert "root:x:0:0" not in out


def test_an_image_in_an_allowed_folder_is_uploaded_and_a_symlink_within_it_is_fine(
    tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "frames").mkdir(parents=True)
    (allowed / "frames" / "first.png").write_bytes(make_png())
    (allowed / "latest.png").symlink_to(allowed / "frames" / "first.png")
    dr = _run(monkeypatch, f" {tmp_path / 'elsewhere'} ,{allowed}", str(allowed / "latest.png"))
    assert dr.state == "success"
    assert emulator.ledger()["submissions"] == 1


def test_a_text_file_is_described_never_quoted(
    tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "passwd.png"
    fake.write_bytes(PASSWD)
    dr = _run(monkeypatch, str(tmp_path), str(fake))
    assert dr.state == "failed" and emulator.ledger()["http_requests"] == 0
    out = "".join(capfd.readouterr())
    assert "not a supported image" in out and "found text" in out
    assert "root:x" not in out and "/bin/bash" not in out


@pytest.mark.parametrize(
    "reference",
    [
        "data:image/png;base64," + base64.b64encode(PASSWD).decode(),
        "data:image/png;base64," + base64.b64encode(b"\x13\x37secret-binary-bytes" * 4).decode(),
    ],
)
def test_no_source_has_its_content_quoted(reference: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_media_inputs({**T2V, "reference_images": [reference]}, aws_conn_id=None)
    message = str(info.value)
    assert info.value.code == "unsupportedMediaFormat"
    for leaked in ("root:x", "1337", "secret-binary", "13 37"):
        assert leaked not in message


def test_operator_argument_overrides_the_setting(
    tmp_path: Path, outside: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__WAN__ALLOWED_LOCAL_ROOTS", str(outside.parent))  # the deployment allows it
    ti = mock.MagicMock(dag_id="d", task_id="gen", run_id="r", map_index=-1)

    def operator(**kwargs: Any) -> WanVideoOperator:
        return WanVideoOperator(task_id="gen", **T2V, reference_images=[str(outside)], **kwargs)

    with pytest.raises(AirflowFailException, match="outside the folders"):
        operator(allowed_local_roots=[str(tmp_path / "elsewhere")]).execute({"ti": ti})  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException, match="outside the folders"):
        operator(allowed_local_roots=[]).execute({"ti": ti})  # type: ignore[arg-type]  # no local files
    with pytest.raises(AirflowFailException, match="absolute"):
        operator(allowed_local_roots=["relative/dir"]).execute({"ti": ti})  # type: ignore[arg-type]
    assert emulator.ledger()["http_requests"] == 0
    value = operator(allowed_local_roots=[str(outside.parent)], wait_for_completion=False).execute(
        {"ti": ti}  # type: ignore[arg-type]
    )
    assert value is not None and value["status"] == "submitted"
    assert emulator.ledger()["submissions"] == 1  # a small image goes inline, in the request
