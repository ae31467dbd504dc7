"""``make demo``: run the ETL-to-video example end to end on this machine, in about a minute.

What it does, all on loopback:

1. a fresh Airflow home in ``.airflow-home/demo/`` (SQLite; ``airflow db migrate``);
2. the Runware emulator (``runware-emulator``: real, playable videos after a few seconds of "rendering")
   and a local S3 (moto's server), each a subprocess on a free port;
3. ``airflow dags test example_wan_etl_to_video``: catalogue CSV -> one Wan2.7 video per product ->
   S3 -> manifest, with the connections passed in the environment;
4. a summary (task states, video URLs, S3 URIs, cost per video and in total, from the manifest in S3 and
   the emulator's ledger), a copy of every video in ``./demo-output/``, checked with PyAV, and one line per
   video saying what to look for in it (the emulator's videos are test cards of their requests);
5. everything it started is stopped again, also on Ctrl-C or failure.

With ``RUNWARE_API_KEY`` set, the real Runware API (https://api.runware.ai/v1) is used instead of the
emulator (S3 stays local) and real money is spent: about $1.30 for the five videos. ``--emulator`` forces
the emulator anyway.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import httpx

DAG_ID = "example_wan_etl_to_video"
REAL_API_URL = "https://api.runware.ai/v1"
DEMO_API_KEY = "wan-demo-key"
BUCKET = "wan-demo"
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "dags_examples"
#: Lines of the Airflow run echoed live (the full log goes to a file).
PROGRESS_PATTERNS = (
    re.compile(r"\[DAG TEST\] (starting|end) task"),
    re.compile(r"Submitted Runware task|Re-attached to Runware task|Deferring until task"),
    re.compile(r"Estimated cost:|Batch of \d+ videos"),
    re.compile(r"Task \S+ finished:"),
    re.compile(r"Task failed with exception|^airflow_provider_wan\.errors\.\w+:|^\w*(Error|Exception): "),
)


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where to look."""


def say(message: str = "") -> None:
    print(message, flush=True)


# -- processes ------------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def tail(self, lines: int = 25) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Processes:
    """Every subprocess the demo starts, each in its own process group, stopped in reverse order."""

    services: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> Service:
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # own process group: stopped as a whole, untouched by the tty's Ctrl-C
        )
        service = Service(name, process, log_path, log_file)
        self.services.append(service)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.services):
            stop_process_group(service.process)
            service.log_file.close()
        self.services.clear()


def stop_process_group(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the process group we created for ``process``, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(service: Service, url: str, timeout: float) -> None:
    """Poll ``url`` until it answers 2xx; fail with the service's log tail if it dies or times out."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise DemoError(
                    f"{service.name} exited with code {service.process.returncode} during start-up; "
                    f"its log ({service.log_path}):\n{service.tail()}"
                )
            try:
                response = client.get(url)
                if response.is_success:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
    raise DemoError(
        f"{service.name} did not answer {url} within {timeout:.0f}s ({last}); log ({service.log_path}):\n"
        f"{service.tail()}"
    )


def wait_for_line(service: Service, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.log_file.flush()
        match = pattern.search(service.log_path.read_text(errors="replace"))
        if match:
            return match
        if service.process.poll() is not None:
            raise DemoError(f"{service.name} exited during start-up; its log:\n{service.tail()}")
        time.sleep(0.1)
    raise DemoError(f"{service.name} did not start within {timeout:.0f}s; its log:\n{service.tail()}")


def run_step(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    timeout: float,
    echo: bool = False,
) -> None:
    """Run a command to completion in its own process group, output to ``log_path`` (filtered echo)."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )

        def pump() -> None:
            assert process.stdout is not None
            previous = ""
            for raw in process.stdout:
                log_file.write(raw)
                if echo:
                    line = _condense(raw.decode(errors="replace"))
                    if line != previous and any(p.search(line) for p in PROGRESS_PATTERNS):
                        say("    " + line)
                    previous = line

        reader = threading.Thread(target=pump, name=f"{name} output", daemon=True)
        reader.start()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DemoError(f"{name} took longer than {timeout:.0f}s; full log: {log_path}") from None
        finally:
            stop_process_group(process)
            reader.join(timeout=5)
    if process.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise DemoError(f"{name} failed (exit code {process.returncode}); full log: {log_path}\n{tail}")


_LOG_PREFIX = re.compile(r"^\S+Z \[\w+\s*\] ")
_LOG_SUFFIX = re.compile(r"\s+\[[\w.]+\](?: \w+=\S+)*\s*$")


def _condense(line: str) -> str:
    """Drop the timestamp/level prefix and the logger/key=value suffix of a structlog line."""
    return _LOG_SUFFIX.sub("", _LOG_PREFIX.sub("", line)).strip()[:150]


# -- the demo -------------------------------------------------------------------------------------


@dataclass
class Endpoints:
    runware_url: str
    api_key: str
    s3_url: str
    emulator_root: str | None  # None with the real API


def conn_env(endpoints: Endpoints) -> dict[str, str]:
    """Connections and settings for every Airflow process (passed in the environment, never stored)."""
    extra: dict[str, Any] = {"timeout": 30}
    if endpoints.emulator_root is not None:
        # The local emulator serves its videos over plain http on 127.0.0.1: allowed for it alone.
        extra |= {"download_allow_http": True, "download_allowed_networks": "127.0.0.1/32"}
    runware = {
        "conn_type": "runware",
        "host": endpoints.runware_url,
        "password": endpoints.api_key,
        "extra": extra,
    }
    aws = {
        "conn_type": "aws",
        "login": "demo",
        "password": "demo-secret",
        "extra": {"endpoint_url": endpoints.s3_url, "region_name": REGION},
    }
    return {
        "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(runware),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        "AIRFLOW_VAR_WAN_EXAMPLES_BUCKET": BUCKET,
    }


def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_"))
        and k not in ("AIRFLOW_HOME", "RUNWARE_API_KEY")
    }
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo-secret",
            "AWS_DEFAULT_REGION": REGION,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_services(procs: Processes, home: Path, env: Mapping[str, str], real_key: str | None) -> Endpoints:
    s3_port = free_port()
    moto = procs.start(
        "moto (S3)",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        env,
        home / "moto.log",
    )
    s3_url = f"http://127.0.0.1:{s3_port}"
    if real_key:
        wait_http(moto, f"{s3_url}/moto-api/data.json", timeout=30)
        return Endpoints(REAL_API_URL, real_key, s3_url, None)
    emulator = procs.start(
        "runware-emulator",
        [
            sys.executable,
            "-m",
            "airflow_provider_wan.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--api-key",
            DEMO_API_KEY,
            "--processing-seconds",
            "3",
            "--seconds-per-output-second",
            "0.3",
            "--report-progress",
            "--log-level",
            "warning",
        ],
        env,
        home / "emulator.log",
    )
    match = wait_for_line(emulator, re.compile(r"listening on (http://127\.0\.0\.1:\d+)/v1"), timeout=30)
    root = match.group(1)
    wait_http(emulator, f"{root}/_emulator/health", timeout=30)
    wait_http(moto, f"{s3_url}/moto-api/data.json", timeout=30)
    return Endpoints(f"{root}/v1", DEMO_API_KEY, s3_url, root)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="demo",
        aws_secret_access_key="demo-secret",
    )


def task_states(home: Path) -> tuple[str, list[tuple[str, int, str, int]]]:
    """The run's state and ``(task_id, map_index, state, try_number)`` rows, from the demo's SQLite DB."""
    db = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True)
    try:
        run = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
        if run is None:
            raise DemoError("the DAG run is missing from the metadata DB")
        rows = db.execute(
            "SELECT task_id, map_index, state, try_number FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? ORDER BY map_index",
            (DAG_ID, run[0]),
        ).fetchall()
    finally:
        db.close()
    return str(run[1]), [(str(t), int(m), str(s), int(n)) for t, m, s, n in rows]


def describe_states(rows: list[tuple[str, int, str, int]]) -> list[str]:
    order = ["extract_products", "build_requests", "generate_video", "write_manifest"]
    grouped: dict[str, list[tuple[int, str, int]]] = {}
    for task_id, map_index, state, tries in rows:
        grouped.setdefault(task_id, []).append((map_index, state, tries))
    lines = []
    for task_id in sorted(grouped, key=lambda t: order.index(t) if t in order else len(order)):
        items = grouped[task_id]
        states = sorted({s for _, s, _ in items})
        label = task_id if items[0][0] < 0 else f"{task_id} [{len(items)} mapped]"
        tries = max(n for _, _, n in items)
        lines.append(f"  {label:<32} {', '.join(states)}" + (f" (tries: {tries})" if tries > 1 else ""))
    return lines


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def probe_video(path: Path) -> str:
    """``"1280x720, 3.0 s, H.264"``: open the file with PyAV and decode its first frame."""
    try:
        import av
    except ImportError:
        return "not checked (PyAV missing)"
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(video=0))
            seconds = float(container.duration or 0) / 1_000_000
            audio = " + audio" if container.streams.audio else ""
            return f"{frame.width}x{frame.height}, {seconds:.1f} s, {stream.codec_context.name}{audio}"
    except Exception as exc:
        raise DemoError(f"{path} does not play: {exc}") from exc


def human_size(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB" if size >= 1_048_576 else f"{size / 1024:.0f} KB"


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not (EXAMPLES / f"{DAG_ID}.py").exists():
        raise DemoError(f"{EXAMPLES / DAG_ID}.py not found: run the demo from a source checkout (make demo)")
    real_key = None if args.emulator else (os.environ.get("RUNWARE_API_KEY") or "").strip() or None
    home = ROOT / ".airflow-home" / "demo"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    output = Path(args.output).resolve()
    run_date = datetime.now(timezone.utc).date().isoformat()

    say("Wan2.7 on Airflow: catalogue CSV -> one video per product -> S3 + manifest")
    if real_key:
        say(f"  Runware: the REAL API at {REAL_API_URL} (RUNWARE_API_KEY is set).")
        say("           This spends real money: about $1.30 for 5 videos, and takes several minutes.")
        say("           Ctrl-C to stop; `--emulator` uses the local emulator instead.")
        if sys.stdin.isatty():
            for left in range(5, 0, -1):
                print(f"\r  starting in {left} s ...", end="", flush=True)
                time.sleep(1)
            say()
    else:
        say("  Runware: the local emulator (set RUNWARE_API_KEY to use the real API)")
    say(f"  Airflow home: {home.relative_to(ROOT)}   DAGs: {EXAMPLES.relative_to(ROOT)}/")

    procs = Processes()
    try:
        env = base_env(home)
        say("\n[1/4] Starting local S3 (moto)" + ("" if real_key else " and the Runware emulator"))
        endpoints = start_services(procs, home, env, real_key)
        if endpoints.emulator_root:
            say(f"      emulator {endpoints.runware_url}  (videos render in ~3-4 s)")
        say(f"      S3       {endpoints.s3_url}  bucket s3://{BUCKET}")
        s3 = s3_client(endpoints.s3_url)
        s3.create_bucket(Bucket=BUCKET)
        env.update(conn_env(endpoints))
        if not real_key:
            env["WAN_EXAMPLES_POLL_SECONDS"] = "1"
        env["WAN_EXAMPLES_RETRY_DELAY_SECONDS"] = "5"

        say("\n[2/4] airflow db migrate")
        run_step(
            "airflow db migrate",
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env,
            home / "db-migrate.log",
            timeout=180,
        )

        say(f"\n[3/4] airflow dags test {DAG_ID} {run_date}")
        run_started = time.monotonic()
        try:
            run_step(
                "airflow dags test",
                [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, run_date],
                env,
                home / "dags-test.log",
                timeout=args.timeout if not real_key else max(args.timeout, 1800),
                echo=True,
            )
        except DemoError:
            with contextlib.suppress(Exception):  # show how far the run got, then the error
                for line in describe_states(task_states(home)[1]):
                    say("    " + line)
            raise
        run_seconds = time.monotonic() - run_started
        state, rows = task_states(home)
        say(f"      DAG run {state} in {run_seconds:.0f} s; task states:")
        for line in describe_states(rows):
            say("    " + line)
        if state != "success":
            raise DemoError(f"the DAG run ended {state}; full log: {home / 'dags-test.log'}")

        say("\n[4/4] Results")
        summarize(s3, endpoints, run_date, output)
    finally:
        procs.stop_all()
    say(
        f"\nDone in {time.monotonic() - started:.0f} s. Logs: {home.relative_to(ROOT)}/ "
        "(dags-test.log, emulator.log, moto.log). Everything started was stopped."
    )
    return 0


def summarize(s3: Any, endpoints: Endpoints, run_date: str, output: Path) -> None:
    key = f"wan-examples/etl/{run_date}/manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except Exception as exc:
        raise DemoError(f"could not read the manifest s3://{BUCKET}/{key}: {exc}") from exc
    output.mkdir(parents=True, exist_ok=True)
    (output / "manifest.json").write_text(json.dumps(manifest, indent=2))
    videos: list[dict[str, Any]] = manifest["videos"]
    requests = task_requests(endpoints, [str(e["task_uuid"]) for e in videos])
    say(f"  manifest s3://{BUCKET}/{key}  ({manifest['video_count']} videos, model {manifest['model']})\n")
    for entry in videos:
        uri = str(entry["s3_uri"])
        bucket, _, object_key = uri.removeprefix("s3://").partition("/")
        ext = Path(object_key).suffix or ".mp4"
        target = output / f"{entry['sku']}-{slug(entry['product'])}{ext}"
        s3.download_file(bucket, object_key, str(target))
        info = probe_video(target)
        say(f"  {entry['sku']}  {entry['product']:<24} ${entry['cost']:.2f}  seed {entry['seed']}")
        say(f"      video URL {entry['video_url']}")
        say(f"      S3        {uri}")
        say(f"      file      {_rel(target)} ({human_size(target.stat().st_size)}, {info})")
        say(f"      look for  {look_for(entry, requests.get(str(entry['task_uuid'])))}")
    say(f"\n  TOTAL  {len(videos)} videos  ${manifest['total_cost']:.2f}  (from the manifest)")
    if endpoints.emulator_root:
        ledger = httpx.get(f"{endpoints.emulator_root}/_emulator/ledger", timeout=10, trust_env=False).json()
        polls = ledger["get_response_uuids_per_request"]["count"]
        say(
            f"  Emulator ledger: {ledger['submissions']} submissions, {ledger['conflicts']} duplicate "
            f"submits refused, charged ${ledger['charged_usd']:.2f}, {polls} status polls"
        )
        if ledger["submissions"] != len(videos) or abs(ledger["charged_usd"] - manifest["total_cost"]) > 1e-6:
            raise DemoError("the emulator ledger disagrees with the manifest")
    say(f"  Videos copied to {_rel(output)}/ (play them with any video player)")


def task_requests(endpoints: Endpoints, task_uuids: list[str]) -> dict[str, dict[str, Any]]:
    """The requests as the emulator recorded them (getTaskDetails), by task UUID; {} with the real API."""
    if not endpoints.emulator_root or not task_uuids:
        return {}
    tasks = [{"taskType": "getTaskDetails", "taskUUID": u} for u in dict.fromkeys(task_uuids)]
    response = httpx.post(
        endpoints.runware_url,
        json=tasks,
        headers={"Authorization": f"Bearer {endpoints.api_key}"},
        timeout=10,
        trust_env=False,
    )
    found: dict[str, dict[str, Any]] = {}
    for item in response.json().get("data", []):
        found[str(item["taskUUID"])] = dict(item["request"][0])
    return found


def look_for(entry: Mapping[str, Any], request: Mapping[str, Any] | None) -> str:
    """One line saying what the video shows: the emulator's test card of this very request."""
    if request is None:
        return f"{entry['product']} as the prompt describes it (a real generation)"
    prompt = str(request.get("positivePrompt") or "")
    shown = prompt if len(prompt) <= 48 else prompt[:47].rstrip() + "\u2026"
    inputs: Mapping[str, Any] = request.get("inputs") or {}
    sound = (request.get("settings") or {}).get("audio", True)
    parts = [
        f"a test card reading \u201c{shown}\u201d",
        f"seed {entry.get('seed')}",
        f"task {str(entry['task_uuid'])[:8]}\u2026",
        f"{request.get('width', '?')}x{request.get('height', '?')}, {request.get('duration', '?')} s",
    ]
    if inputs.get("frameImages"):
        parts.append("opening on the first frame image")
    if inputs.get("audio"):
        parts.append("playing the input audio")
    else:
        parts.append("a steady tone" if sound else "no sound")
    return "; ".join(parts)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_wan.demo",
        description="Run the ETL-to-video example DAG end to end against a local Runware emulator and S3.",
    )
    parser.add_argument(
        "--output", default="demo-output", help="where to copy the videos (default: %(default)s)"
    )
    parser.add_argument(
        "--emulator", action="store_true", help="use the emulator even if RUNWARE_API_KEY is set"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed for the DAG run")
    args = parser.parse_args(argv)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return run_demo(args)
    except KeyboardInterrupt:
        say("\nInterrupted: everything the demo started has been stopped.")
        return 130
    except DemoError as exc:
        say(f"\nDEMO FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
