"""Connections: only a ``runware`` connection's password goes to Runware, and credentials written into the
base URL are refused before any request, leaking into no message or repr.

Driven through the hook against the emulator (its ledger counts every HTTP request it received).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from airflow_provider_wan.client import ClientConfig
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.hooks.runware import RunwareHook
from tests.conftest import API_KEY

SECRET = "userinfo-secret-7c1d2e"


def _conn(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(fields))


@pytest.mark.parametrize("conn_type", ["aws", "http", "generic"])
def test_a_connection_of_another_type_is_refused_before_any_request(
    conn_type: str, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _conn(monkeypatch, conn_type=conn_type, host=emulator.base_url, password=API_KEY)
    with RunwareHook() as hook, pytest.raises(RunwareError) as info:
        hook.get_responses([str(uuid.uuid4())])
    message = str(info.value)
    assert repr(conn_type) in message and "'runware'" in message
    assert info.value.parameter == "conn_type" and not info.value.retryable
    assert API_KEY not in message
    assert emulator.ledger()["http_requests"] == 0  # the password never left the worker


async def test_the_async_path_refuses_it_too(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, conn_type="aws", host=emulator.base_url, password=API_KEY)
    async with RunwareHook() as hook:
        with pytest.raises(RunwareError, match=r"'aws'.*'runware'"):
            await hook.aget_responses([str(uuid.uuid4())])
    assert emulator.ledger()["http_requests"] == 0


def test_test_connection_names_both_types(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, conn_type="aws", host=emulator.base_url, password=API_KEY)
    ok, message = RunwareHook().test_connection()
    assert not ok and "'aws'" in message and "'runware'" in message
    assert emulator.ledger()["http_requests"] == 0


def test_credentials_in_the_base_url_are_refused_and_never_shown(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = emulator.base_url.replace("://", f"://user:{SECRET}@", 1)
    _conn(monkeypatch, conn_type="runware", host=host, password=API_KEY)
    hook = RunwareHook()
    ok, message = hook.test_connection()
    assert not ok and "credentials" in message and SECRET not in message
    with pytest.raises(RunwareError) as info:
        hook.get_task_details(str(uuid.uuid4()))
    texts = [str(info.value), repr(info.value), str(info.value.to_dict()), repr(hook)]
    assert info.value.parameter == "host"
    for text in texts:
        assert SECRET not in text
    assert emulator.ledger()["http_requests"] == 0


@pytest.mark.parametrize(
    "base_url",
    [f"https://:{SECRET}@api.runware.ai/v1", f"http://me:{SECRET}@127.0.0.1:9/v1", f"ftp://me:{SECRET}@h/v1"],
)
def test_client_config_refuses_userinfo_without_echoing_it(base_url: str) -> None:
    with pytest.raises(RunwareError) as info:
        ClientConfig(api_key=SecretStr("k"), base_url=base_url)
    assert info.value.parameter == "host"
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
