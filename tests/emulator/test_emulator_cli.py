"""The command line: flags map onto settings; the process prints its URL and serves."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from airflow_provider_wan.emulator.__main__ import build_parser, main, settings_from_args


def test_flags_map_onto_settings() -> None:
    args = build_parser().parse_args(
        [
            "--api-key", "a", "--api-key", "b", "--seed", "9",
            "--processing-seconds", "1.5", "--seconds-per-output-second", "0", "--jitter", "0.1",
            "--media-scale", "0.5", "--default-ttl", "120",
            "--fault-p-500", "0.2", "--p-429", "0.1", "--fault-retry-after", "4",
            "--fault-failure-shape", "nested", "--empty-errors-array", "--no-webhook-post-failures",
            "--fault-pad-bytes", "1000",
            "--forbidden-keys", "ro-1,ro-2", "--fault-forbidden-keys", "ro-3",
            "--no-resolution-must-match-size", "--refresh-expired-urls",
        ]
    )  # fmt: skip
    settings = settings_from_args(args)
    assert settings.api_keys == ("a", "b") and settings.seed == 9
    assert (settings.processing_seconds, settings.seconds_per_output_second, settings.jitter) == (1.5, 0, 0.1)
    assert (settings.media_scale, settings.default_ttl) == (0.5, 120)
    assert (settings.p_500, settings.p_429, settings.retry_after) == (0.2, 0.1, 4)
    assert settings.failure_shape == "nested" and settings.empty_errors_array is True
    assert settings.webhook_post_failures is False and settings.pad_bytes == 1000
    assert settings.forbidden_keys == ("ro-1", "ro-2", "ro-3")
    assert settings.resolution_must_match_size is False and settings.refresh_expired_urls is True


def test_defaults() -> None:
    settings = settings_from_args(build_parser().parse_args([]))
    assert settings.api_keys == ("runware-emulator-key",) and settings.p_500 == 0
    assert settings.allowed_hosts == () and settings.forbidden_keys == ()
    assert settings.resolution_must_match_size is True and settings.refresh_expired_urls is False
    assert settings.delivery_max_attempts == 8  # reaches the documented 8 s retry delay


def test_allow_host_is_repeatable_and_comma_separated() -> None:
    args = build_parser().parse_args(["--allow-host", "s3", "--allow-host", "MinIO,airflow-webserver"])
    assert settings_from_args(args).allowed_hosts == ("s3", "minio", "airflow-webserver")


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault-p-500", "2"],
        ["--failure-shape", "x"],
        ["--host", "0.0.0.0"],
        ["--allow-host", "http://s3:9000"],
        ["--allow-host", "s3,"],
        ["--allow-host", "*.internal"],
        ["--forbidden-keys", "ro-1,"],
    ],
)
def test_bad_flags_exit(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)


def test_process_prints_url_and_serves() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_wan.emulator",
            "--port",
            "0",
            "--log-level",
            "warning",
            "--allow-host",
            "s3",
            "--forbidden-keys",
            "read-only-key",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        keys = process.stdout.readline().strip()
        assert first.startswith(
            "Runware emulator (Wan2.7) listening on http://127.0.0.1:"
        ) and first.endswith("/v1")
        assert keys == "Accepted API key: the demo key runware-emulator-key (--api-key replaces it)"
        assert process.stdout.readline().strip() == "May contact, besides loopback: s3"
        # A forbidden key is a secret like any other: counted, never printed.
        assert process.stdout.readline().strip() == "Keys without permission (403): 1 (not shown)"
        base = first.rsplit(" ", 1)[-1]
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.post(
                    base, json=[{"taskType": "authentication", "apiKey": "runware-emulator-key"}]
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(10)
