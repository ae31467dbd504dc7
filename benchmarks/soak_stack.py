"""The soak's Airflow deployment and what it reads back: ``SoakStack`` (``AirflowStack`` plus component
kills and restarts, mapped task instances, XComs and task logs), the triggerer events it plans, and
the log parsers the soak's checks use. ``benchmarks.soak`` (SQLite + LocalExecutor) and
``benchmarks.soak_distributed`` (Postgres + Redis + CeleryExecutor) share them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e_support import AirflowStack, Component

DAG_ID = "wan_soak"
TASK_ID = "video"


@dataclasses.dataclass(frozen=True)
class TriggererEvent:
    """One planned triggerer fault: ``signal`` to ``component``'s process group, then restart it or not."""

    component: str
    signal: signal.Signals
    restart: bool = True


@dataclasses.dataclass
class Restart:
    """One triggerer event as it happened, and (after the run) how its triggers were taken over."""

    number: int
    signal: str
    at_seconds: float  # since the first DAG run was triggered
    killed_at: float  # epoch
    begun_fraction: float  # of the mapped tasks, started by then
    deferred: list[tuple[str, int, int]]  # (run_id, map_index, try_number) deferred when it was killed
    old_job_ids: list[int]  # the killed triggerer's job(s)
    component: str = "triggerer"
    restarted: bool = True  # False: not restarted, another running triggerer must adopt its triggers
    known_job_ids: list[int] = dataclasses.field(default_factory=list)  # every triggerer job at the kill
    new_job_id: int | None = None  # the job that takes the triggers over (restarted one, or the survivor)
    resumed: int = 0  # of ``deferred``: the same try's trigger ran again in the new triggerer
    fired_before: int = 0  # of ``deferred``: its trigger had fired already (the snapshot was a bit old)
    elsewhere: int = 0  # of ``deferred``: already run by the surviving triggerer before the kill
    takeover_max_s: float | None = None  # kill -> the last resumed trigger started in the new triggerer


@dataclasses.dataclass
class SoakStack(AirflowStack):
    """``AirflowStack`` plus: kill/restart one component, list mapped task instances, read XComs/logs."""

    retired: list[Component] = dataclasses.field(default_factory=list)
    job_of: dict[str, int] = dataclasses.field(default_factory=dict)  # triggerer component -> its job id
    swept: list[str] = dataclasses.field(default_factory=list)  # processes ended after stop()

    def stop(self, grace: float = 8.0) -> None:
        """Stop every component, then end any process still carrying this Airflow home (e.g. a task process
        orphaned by a killed worker: it has a process group of its own), noting it in ``swept``."""
        super().stop(grace)
        for pid, cmdline in processes_with_env(f"AIRFLOW_HOME={self.home}"):
            self.swept.append(f"{pid} {cmdline[:120]}")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def leftovers(self) -> list[str]:
        """Processes of this deployment still alive (after ``stop``: must be none)."""
        time.sleep(0.5)
        return [f"{pid} {cmdline[:120]}" for pid, cmdline in processes_with_env(f"AIRFLOW_HOME={self.home}")]

    def command(self, name: str) -> list[str]:
        """The command line of component ``name``."""
        return [sys.executable, "-m", "airflow", name]

    def client(self) -> httpx.Client:
        """The REST client, patient: on a loaded machine the api-server may stall for tens of seconds."""
        api = super().client()
        api.timeout = httpx.Timeout(90.0)
        return api

    def component_env(self, name: str) -> dict[str, str]:
        return self.env()

    def launch(self, name: str, log_path: Path) -> None:
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            self.command(name),
            env=self.component_env(name),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.components[name] = Component(name, process, log_path, log_file)

    def triggerer_plan(self, count: int) -> list[TriggererEvent]:
        """``count`` restarts of the one triggerer: a crash (SIGKILL), then a clean shutdown (SIGTERM)..."""
        signals = (signal.SIGKILL, signal.SIGTERM)
        return [TriggererEvent("triggerer", signals[i % 2]) for i in range(count)]

    def resolve(self, event: TriggererEvent, deferred: list[tuple[str, int, int]]) -> TriggererEvent | None:
        """The event to carry out now, given the deferred (run, map_index, try); None: not yet."""
        return event

    def trigger_jobs(self, run_id: str, map_index: int, try_number: int) -> set[int]:
        """Triggerer job ids that ran this try's trigger (``attempt=N.log.trigger.<job>.log``)."""
        directory = self.ti_log_dir(run_id, map_index)
        prefix = f"attempt={try_number}.log.trigger."
        if not directory.is_dir():
            return set()
        return {
            int(path.name[len(prefix) : -len(".log")])
            for path in directory.glob(f"{prefix}*.log")
            if path.name[len(prefix) : -len(".log")].isdigit()
        }

    def kill_component(self, name: str, sig: signal.Signals, *, restart: bool = True) -> None:
        """Kill ``name``'s process group with ``sig`` (SIGKILL: a crash); start a new one if ``restart``."""
        old = self.components.pop(name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(old.process.pid, sig)
        try:
            old.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(old.process.pid, signal.SIGKILL)
            old.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(old.process.pid, signal.SIGKILL)  # leftovers of the group
        old.log_file.close()
        self.retired.append(old)
        if restart:
            self.launch(name, self.home / f"{name}.{len(self.retired)}.log")

    def restart_component(self, name: str, sig: signal.Signals) -> None:
        self.kill_component(name, sig, restart=True)

    def job_ids_of(self, api: httpx.Client, name: str) -> list[int]:
        """The triggerer job(s) of component ``name`` (with one triggerer: every triggerer job so far)."""
        return [self.job_of[name]] if name in self.job_of else self.triggerer_job_ids(api)

    def task_instances(
        self, api: httpx.Client, dag_id: str, task_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every task instance of ``dag_id`` over all runs (paged)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 500, "order_by": "id"}
        if task_id:
            params["task_id"] = task_id
        while True:
            response = api.get(
                f"/dags/{dag_id}/dagRuns/~/taskInstances", params={**params, "offset": len(found)}
            )
            response.raise_for_status()
            body = response.json()
            page = body.get("task_instances", [])
            found.extend(page)
            if not page or len(found) >= int(body.get("total_entries", 0)):
                return found

    def run_states(self, api: httpx.Client, dag_id: str) -> dict[str, str]:
        response = api.get(f"/dags/{dag_id}/dagRuns", params={"limit": 100})
        response.raise_for_status()
        return {run["dag_run_id"]: run["state"] for run in response.json()["dag_runs"]}

    def mapped_xcom(self, api: httpx.Client, run_id: str, map_index: int, key: str = "return_value") -> Any:
        response = api.get(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/xcomEntries/{key}",
            params={"map_index": map_index},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["value"]

    def ti_log_dir(self, run_id: str, map_index: int) -> Path:
        return (
            self.home
            / "logs"
            / f"dag_id={DAG_ID}"
            / f"run_id={run_id}"
            / f"task_id={TASK_ID}"
            / (f"map_index={map_index}")
        )

    def triggerer_job_ids(self, api: httpx.Client) -> list[int]:
        response = api.get("/jobs", params={"job_type": "TriggererJob", "limit": 100})
        response.raise_for_status()
        return sorted(int(job["id"]) for job in response.json()["jobs"])


def processes_with_env(entry: str) -> list[tuple[int, str]]:
    """(pid, command line) of this machine's processes whose environment holds ``entry`` exactly."""
    found: list[tuple[int, str]] = []
    needle = entry.encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                found.append((int(proc.name), cmdline.decode(errors="replace")))
    return found


def attempt_logs(directory: Path) -> dict[int, str]:
    """``attempt=N.log`` texts of one task instance (worker side), by try number."""
    texts: dict[int, str] = {}
    if directory.is_dir():
        for path in directory.iterdir():
            match = re.fullmatch(r"attempt=(\d+)\.log", path.name)
            if match:
                texts[int(match.group(1))] = path.read_text(errors="replace")
    return texts


def first_timestamp(path: Path) -> float | None:
    """Epoch seconds of the first JSON log line of ``path`` (None when there is no such file)."""
    if not path.exists():
        return None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return dt.datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp()
    return None


def last_trigger_line(directory: Path) -> str:
    """For a stuck task: the newest trigger log's last line and how long ago it was written."""
    logs = sorted(directory.glob("attempt=*.log.trigger.*.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return " (no trigger log)"
    lines = [line for line in logs[-1].read_text(errors="replace").splitlines() if line.startswith("{")]
    if not lines:
        return f" ({logs[-1].name} is empty)"
    with contextlib.suppress(ValueError, KeyError, TypeError):
        entry = json.loads(lines[-1])
        age = time.time() - dt.datetime.fromisoformat(entry["timestamp"]).timestamp()
        return f" ({logs[-1].name}: {len(lines)} lines, the last {age:.0f}s ago: {str(entry['event'])[:160]})"
    return f" ({logs[-1].name}: {lines[-1][:160]})"


STATE_MISMATCH = re.compile(
    r"reported that the task instance <TaskInstance: (?P<dag>[\w.-]+)\.(?P<task>[\w.-]+) (?P<run>\S+)"
    r"(?: map_index=(?P<index>\d+))? \[\w+\][^>]*> finished with state \w+, but the task instance's state"
)


def scheduler_state_mismatches(path: Path) -> set[tuple[str, int]]:
    """(run_id, map_index) of the soak tasks the scheduler failed for an executor/TI state mismatch."""
    found: set[tuple[str, int]] = set()
    if path.exists():
        for match in STATE_MISMATCH.finditer(path.read_text(errors="replace")):
            if match.group("dag") == DAG_ID and match.group("task") == TASK_ID:
                found.add((match.group("run"), int(match.group("index") or -1)))
    return found


def heartbeat_timeouts(stack: SoakStack, api: httpx.Client) -> set[tuple[str, int, int]]:
    """(run_id, map_index, try_number) of the soak tries the scheduler failed for a missing heartbeat."""
    response = api.get("/eventLogs", params={"event": "heartbeat timeout", "dag_id": DAG_ID, "limit": 1000})
    response.raise_for_status()
    return {
        (
            str(entry["run_id"]),
            int(entry.get("map_index") if entry.get("map_index") is not None else -1),
            int(entry.get("try_number") or 0),
        )
        for entry in response.json().get("event_logs", [])
        if entry.get("task_id") == TASK_ID
    }


@dataclasses.dataclass
class Takeover:
    """How the deferred tasks of one triggerer event were taken over (read from the trigger logs)."""

    latencies: list[float] = dataclasses.field(default_factory=list)  # kill -> running in the new job
    fired_before: int = 0
    elsewhere: int = 0
    missing: list[tuple[str, int, int]] = dataclasses.field(default_factory=list)


def takeover(stack: SoakStack, restart: Restart) -> Takeover:
    """Classify each task deferred at ``restart``: resumed in the new job (and when), fired on the killed
    one just before the kill, run by the surviving triggerer all along, or missing."""
    found = Takeover()
    for run, index, try_number in restart.deferred:
        directory = stack.ti_log_dir(run, index)
        began_at = (
            first_timestamp(directory / f"attempt={try_number}.log.trigger.{restart.new_job_id}.log")
            if restart.new_job_id is not None
            else None
        )
        # The survivor's log of this try began before the kill: it ran that trigger all along.
        if began_at is not None and not restart.restarted and began_at < restart.killed_at - 1.0:
            found.elsewhere += 1
        elif began_at is not None:
            found.latencies.append(began_at - restart.killed_at)
        elif any(
            "Trigger fired event" in path.read_text(errors="replace")
            for path in (
                directory / f"attempt={try_number}.log.trigger.{job}.log" for job in restart.old_job_ids
            )
            if path.exists()
        ):
            found.fired_before += 1
        else:
            found.missing.append((run, index, try_number))
    return found
