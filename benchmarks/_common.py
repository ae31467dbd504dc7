"""Shared helpers of the benchmarks: statistics, /proc readers, the emulator subprocess, child processes.

Every benchmark measures the client side in a process of its own and runs the Runware emulator as a
separate ``runware-emulator`` subprocess, so neither's CPU or memory is counted as the other's. Only
127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_API_KEY = "bench-key-0123456789abcdef"
CONN_ENV = "AIRFLOW_CONN_RUNWARE_DEFAULT"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------------------------------
# Statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary(values: Iterable[float], digits: int = 3) -> dict[str, float]:
    """n, min, p50, p95, p99, max, mean of ``values`` (all 0.0 when empty)."""
    data = [float(v) for v in values]
    if not data:
        return {"n": 0, "min": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    return {
        "n": len(data),
        "min": round(min(data), digits),
        "p50": round(percentile(data, 50), digits),
        "p95": round(percentile(data, 95), digits),
        "p99": round(percentile(data, 99), digits),
        "max": round(max(data), digits),
        "mean": round(sum(data) / len(data), digits),
    }


def ratio(numerator: float, denominator: float, digits: int = 3) -> float | None:
    """``numerator / denominator`` rounded, or None when the denominator is 0."""
    return round(numerator / denominator, digits) if denominator else None


# --------------------------------------------------------------------------------------------------
# /proc readers (Linux; no psutil)


def _status_field(pid: int | str, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size (VmRSS) in MiB."""
    return _status_field(pid, "VmRSS") / 1024.0


def hwm_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) in MiB."""
    return _status_field(pid, "VmHWM") / 1024.0


def reset_hwm() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds consumed so far by process ``pid`` (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --------------------------------------------------------------------------------------------------
# The emulator as a subprocess


class EmulatorProcess:
    """``runware-emulator`` on 127.0.0.1:<free port> in its own process, with the control calls.

    ``knobs`` are emulator settings (``processing_seconds=20, jitter=0.5``...), passed as CLI flags.
    """

    def __init__(self, *, api_key: str = BENCH_API_KEY, seed: int | None = 7, **knobs: Any) -> None:
        exe = Path(sys.executable).with_name("runware-emulator")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "airflow_provider_wan.emulator"]
        cmd += ["--host", "127.0.0.1", "--port", "0", "--log-level", "warning", "--api-key", api_key]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        for name, value in knobs.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                cmd.append(flag if value else "--no-" + name.replace("_", "-"))
            else:
                cmd += [flag, str(value)]
        self.api_key = api_key
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=ROOT, env=_child_env()
        )
        self.root_url = self._wait_for_url(timeout=60.0)
        import httpx

        self._control = httpx.Client(base_url=self.root_url, timeout=120.0, trust_env=False)
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _wait_for_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                match = re.search(r"listening on (http://\S+)/v1", line)
                if match:
                    found.append(match.group(1))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.close()
            self._log.seek(0)
            raise RuntimeError(f"the emulator did not start: {self._log.read()[-2000:]}")
        return found[0]

    def _drain_stdout(self) -> None:
        if self.proc.stdout is not None:
            for _ in self.proc.stdout:
                pass

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def conn_json(self, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_RUNWARE_DEFAULT`` value pointing at this emulator (its plain-http videos on
        127.0.0.1 allowed for download, explicitly)."""
        local = {"download_allow_http": True, "download_allowed_networks": "127.0.0.1/32"}
        return json.dumps(
            {"conn_type": "runware", "host": self.base_url, "password": self.api_key, "extra": local | extra}
        )

    def ledger(self) -> dict[str, Any]:
        return self._json("GET", "/_emulator/ledger")

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/_emulator/health")

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        return self._json("POST", "/_emulator/faults", json=knobs)

    def reset(self, *, keep_faults: bool = True) -> None:
        self._json("POST", "/_emulator/reset", json={"keep_faults": keep_faults})

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._control.request(method, path, **kwargs)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def close(self) -> None:
        if getattr(self, "_control", None) is not None:
            self._control.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------
# Jobs and child processes


def video_task(
    task_uuid: str, prompt: str = "a red fox running through fresh snow", **fields: Any
) -> dict[str, Any]:
    """One ``videoInference`` task as the provider sends it (720p 16:9, 5 s unless overridden)."""
    from airflow_provider_wan.models import WanVideoRequest

    values: dict[str, Any] = {"positive_prompt": prompt, "width": 1280, "height": 720, "duration": 5}
    values.update(fields)
    return WanVideoRequest(**values).to_wire(task_uuid)


def submit_jobs(base_url: str, api_key: str, tasks: Sequence[Mapping[str, Any]], batch: int = 100) -> float:
    """POST ``tasks`` in arrays of ``batch`` (setup, not measured); returns the submit time (epoch s)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(timeout=120.0, trust_env=False) as client:
        for start in range(0, len(tasks), batch):
            response = client.post(base_url, json=list(tasks[start : start + batch]), headers=headers)
            response.raise_for_status()
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(f"submit rejected: {body['errors'][:2]}")
    return time.time()


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)  # set by the test suite; children run like production
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env


def airflow_home_env(home: str, **extra: str) -> dict[str, str]:
    """Environment of a child process with its own throw-away ``AIRFLOW_HOME``."""
    return _child_env({"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", **extra})


def start_child(module: str, params: Mapping[str, Any], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start ``python -m <module> --child <json>``; collect its answer with :func:`child_result`."""
    return subprocess.Popen(
        [sys.executable, "-m", module, "--child", json.dumps(dict(params))],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def child_result(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """The last JSON line a child printed; raises with its stderr tail when it failed."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"child {proc.args!r} timed out after {timeout:.0f}s: {err[-3000:]}") from None
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed (rc={proc.returncode}): {err[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_child(
    module: str, params: Mapping[str, Any], env: Mapping[str, str], timeout: float
) -> dict[str, Any]:
    return child_result(start_child(module, params, env), timeout)


def emit(result: Mapping[str, Any]) -> None:
    """A child's answer: one JSON line on stdout (the parent reads the last one)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------------
# Output


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if value.is_integer() and abs(value) < 1e6:
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (right-aligned numbers), titled."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [
        title,
        "  ".join(
            h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        ),
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def goal(
    name: str, value: float | None, limit: float, *, unit: str = "", lower_is_better: bool = True
) -> dict[str, Any]:
    """A goal verdict: ``met`` and the margin (how far under/over the limit, same unit)."""
    if value is None:
        return {"goal": name, "value": None, "limit": limit, "unit": unit, "met": False, "margin": None}
    met = value <= limit if lower_is_better else value >= limit
    margin = (limit - value) if lower_is_better else (value - limit)
    return {
        "goal": name,
        "value": round(value, 3),
        "limit": limit,
        "unit": unit,
        "met": met,
        "margin": round(margin, 3),
    }


def goals_table(goals: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [
            g["goal"],
            g["value"],
            f"{g['limit']:g} {g['unit']}".strip(),
            "MET" if g["met"] else "MISSED",
            g["margin"],
        ]
        for g in goals
    ]
    return table("Goals", ["goal", "measured", "limit", "verdict", "margin"], rows)
